/* SPDX-License-Identifier: MIT */
#ifndef PPN_MKIND_H
#define PPN_MKIND_H

/*
 * The fields of each manifest kind, for the manifest loader. Each function applies the kind's
 * defaults to an object whose name and loc the caller has set, then reads every other key of
 * the file's top mapping into it. apiVersion, kind and name are known keys here but read by
 * the caller. Problems go to file; the object is only meaningful when file->problems did not
 * grow. Strings stored in the object are owned by it.
 */

#include "mfield.h"
#include "model.h"
#include "ytree.h"

void ppn_mkind_read_network(struct ppn_mfile *file, const struct ppn_ynode *root,
			    struct ppn_network *network);
void ppn_mkind_read_node(struct ppn_mfile *file, const struct ppn_ynode *root,
			 struct ppn_node *node);
void ppn_mkind_read_peer(struct ppn_mfile *file, const struct ppn_ynode *root,
			 struct ppn_peer *peer);
void ppn_mkind_read_image(struct ppn_mfile *file, const struct ppn_ynode *root,
			  struct ppn_image *image);
void ppn_mkind_read_vm(struct ppn_mfile *file, const struct ppn_ynode *root, struct ppn_vm *vm);
void ppn_mkind_read_placement(struct ppn_mfile *file, const struct ppn_ynode *root,
			      struct ppn_placement *placement);

#endif
