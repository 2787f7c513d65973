/* The providers compiled in; the registry in sttprovider.c lists them. */
#pragma once

#include "sttprovider.h"

extern const SttProviderInfo stt_provider_deepgram;
extern const SttProviderInfo stt_provider_vosk;
