/* SPDX-License-Identifier: MIT */
#include "source.h"
