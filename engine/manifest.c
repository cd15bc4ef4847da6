/* SPDX-License-Identifier: MIT */
#include "manifest.h"
