/* SPDX-License-Identifier: MIT */
#ifndef PPN_CLI_H
#define PPN_CLI_H

/* The subcommands of ppn(1), one file each. Each returns the process exit status. */

int ppn_cmd_keygen(int argc, char **argv);
int ppn_cmd_validate(int argc, char **argv);

#endif
