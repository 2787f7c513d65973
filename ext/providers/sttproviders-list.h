/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The providers compiled in, declared from sttproviders.def (the one list to edit). */
#pragma once

#include "sttprovider.h"

#define STT_PROVIDER(name) extern const SttProviderInfo stt_provider_##name;
#include "sttproviders.def"
#undef STT_PROVIDER
