/* The providers compiled in; the registry in sttprovider.c lists them. */
#pragma once

#include "sttprovider.h"

extern const SttProviderInfo stt_provider_deepgram;
extern const SttProviderInfo stt_provider_vosk;
extern const SttProviderInfo stt_provider_soniox;
extern const SttProviderInfo stt_provider_gladia;
extern const SttProviderInfo stt_provider_assemblyai;
extern const SttProviderInfo stt_provider_elevenlabs;
extern const SttProviderInfo stt_provider_openai;
extern const SttProviderInfo stt_provider_speechmatics;
extern const SttProviderInfo stt_provider_aws;
