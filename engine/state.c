/* SPDX-License-Identifier: MIT */
#include "state.h"
