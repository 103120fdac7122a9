// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario replay driver (tests/scenario_replay.py, issue 20): a board's scenarios, made by
 * Linux itself through the DMA API (device-tree delivery) or the board's generated helper
 * (`uses: helper`), one line of output a request, for the test to hold against `dtgen check`.
 *
 * Built into the minimal test kernel (obj-y, with the helpers of the replayed boards). Linux 6.12
 * behaviour it relies on:
 * - A device holds one CMA area (dev->cma_area) and one coherent pool (dev->dma_mem), so each
 *   kind with a device-tree region gets its own device, as s5p-mfc makes its memory ports:
 *   a child of the board device, DMA-configured from the parent's node (of_dma_configure()),
 *   with memory-region entry `idx` attached (of_reserved_mem_device_init_by_idx()). A kind with
 *   no entry gets a bare child: the default area or the page allocator, as the kernel decides.
 * - dma_alloc_coherent() on such a child is the whole delivery: the coherent pool with no
 *   fallback (dma_alloc_from_dev_coherent()), else dma-direct: the child's CMA area, or the
 *   default one for more than a page, then the page allocator (dma_alloc_contiguous(),
 *   __dma_direct_alloc_pages()).
 * - A helper device calls BOARD_cma_alloc()/BOARD_cma_release() with the board device itself:
 *   the helper finds its route by the device's node.
 *
 * The test tree carries, on each board device's node (compatible "dtgen,replay" after the
 * board's own):
 *   dtgen,name = "dev"            the board's device name
 *   dtgen,kinds = "a", "b"        its kinds, in the board's order
 *   dtgen,entry = <0 0xffffffff>  each kind's memory-region index, or none
 *   dtgen,dma-bits = <32>         its DMA mask
 *   dtgen,helper = "board"        present: every kind goes through that board's helper
 * and /dtgen-replay holds the script (`script`, one step a string) and `handles`, the number of
 * allocation handles it uses:
 *   s NAME                        a scenario starts
 *   a H DEV KIND SIZE             allocate SIZE bytes of KIND for DEV as handle H
 *   f H                           free handle H
 *   e                             the scenario ends: free what it still holds, newest first
 * Output, one record a line (the test reads lines holding "@R "):
 *   @R begin <steps>
 *   @R area <name> <base> <size>                   every CMA area (cma_for_each_area())
 *   @R default <name>                              dev_get_cma_area(NULL)
 *   @R attach <dev> <kind> <entry> <ret> <name> <base> <size>
 *   @R scenario <name>
 *   @R alloc <h> ok <phys>  |  @R alloc <h> fail
 *   @R free <h>
 *   @R error <what>
 *   @R end <steps>
 */

#include <linux/cma.h>
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/of_device.h>
#include <linux/of_reserved_mem.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dtgen-replay.h"

#define REPLAY_MAX_KINDS 16
#define REPLAY_NO_ENTRY 0xffffffffU

struct replay_kind {
	const char *name;
	struct device *dev;	/* the child that allocates; NULL for helper kinds */
};

struct replay_device {
	struct list_head link;
	struct device *dev;	/* the board device */
	const char *name;
	const struct dtgen_replay_helper *helper;
	int nkinds;
	struct replay_kind kinds[REPLAY_MAX_KINDS];
};

struct replay_handle {
	struct replay_device *rd;
	int kind;
	size_t size;
	void *cpu;		/* dma_alloc_coherent() */
	dma_addr_t dma;
	struct page *page;	/* the helper */
	phys_addr_t phys;
	bool live;
	int serial;		/* allocation order, for the newest-first release */
};

static LIST_HEAD(replay_devices);

static void replay_child_release(struct device *dev)
{
	kfree(dev);
}

static struct device *replay_child(struct device *parent, const char *kind, u64 mask)
{
	struct device *child = kzalloc(sizeof(*child), GFP_KERNEL);

	if (!child)
		return NULL;
	device_initialize(child);
	dev_set_name(child, "%s:%s", dev_name(parent), kind);
	child->parent = parent;
	child->release = replay_child_release;
	child->dma_mask = &child->coherent_dma_mask;
	child->coherent_dma_mask = mask;
	if (of_dma_configure(child, parent->of_node, true) || device_add(child)) {
		put_device(child);
		return NULL;
	}
	dma_set_mask_and_coherent(child, mask);
	return child;
}

static const struct dtgen_replay_helper *replay_helper(const char *board)
{
	const struct dtgen_replay_helper *h;

	for (h = dtgen_replay_helpers; h->board; h++)
		if (!strcmp(h->board, board))
			return h;
	return NULL;
}

static void replay_print_entry(struct replay_device *rd, int i, u32 entry, int ret)
{
	struct device_node *np = of_parse_phandle(rd->dev->of_node, "memory-region", entry);
	struct reserved_mem *rmem = np ? of_reserved_mem_lookup(np) : NULL;

	if (rmem)
		pr_info("@R attach %s %s %u %d %s %pa %pa\n", rd->name, rd->kinds[i].name, entry, ret,
			rmem->name, &rmem->base, &rmem->size);
	else
		pr_info("@R attach %s %s %u %d - 0 0\n", rd->name, rd->kinds[i].name, entry, ret);
	of_node_put(np);
}

static int replay_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct device_node *np = dev->of_node;
	struct replay_device *rd;
	const char *helper;
	u32 bits = 32;
	int i;

	rd = devm_kzalloc(dev, sizeof(*rd), GFP_KERNEL);
	if (!rd)
		return -ENOMEM;
	rd->dev = dev;
	if (of_property_read_string(np, "dtgen,name", &rd->name))
		rd->name = dev_name(dev);
	of_property_read_u32(np, "dtgen,dma-bits", &bits);
	dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits));
	if (!of_property_read_string(np, "dtgen,helper", &helper)) {
		rd->helper = replay_helper(helper);
		if (!rd->helper)
			pr_info("@R error %s: no helper for board %s in this kernel\n", rd->name, helper);
	}
	rd->nkinds = of_property_count_strings(np, "dtgen,kinds");
	if (rd->nkinds < 0 || rd->nkinds > REPLAY_MAX_KINDS) {
		pr_info("@R error %s: dtgen,kinds\n", rd->name);
		return -EINVAL;
	}
	for (i = 0; i < rd->nkinds; i++) {
		struct replay_kind *k = &rd->kinds[i];
		u32 entry = REPLAY_NO_ENTRY;
		int ret;

		of_property_read_string_index(np, "dtgen,kinds", i, &k->name);
		if (of_property_present(np, "dtgen,helper"))
			continue;
		k->dev = replay_child(dev, k->name, DMA_BIT_MASK(bits));
		if (!k->dev) {
			pr_info("@R error %s/%s: no child device\n", rd->name, k->name);
			continue;
		}
		of_property_read_u32_index(np, "dtgen,entry", i, &entry);
		if (entry == REPLAY_NO_ENTRY)
			continue;
		ret = of_reserved_mem_device_init_by_idx(k->dev, np, entry);
		replay_print_entry(rd, i, entry, ret);
	}
	list_add_tail(&rd->link, &replay_devices);
	return 0;
}

static const struct of_device_id replay_match[] = {
	{ .compatible = "dtgen,replay" },
	{ }
};

static struct platform_driver replay_driver = {
	.probe = replay_probe,
	.driver = {
		.name = "dtgen-replay",
		.of_match_table = replay_match,
	},
};
builtin_platform_driver(replay_driver);

static struct replay_device *replay_find(const char *name)
{
	struct replay_device *rd;

	list_for_each_entry(rd, &replay_devices, link)
		if (!strcmp(rd->name, name))
			return rd;
	return NULL;
}

static int replay_kind_index(struct replay_device *rd, const char *kind)
{
	int i;

	for (i = 0; i < rd->nkinds; i++)
		if (!strcmp(rd->kinds[i].name, kind))
			return i;
	return -1;
}

static void replay_alloc(struct replay_handle *h)
{
	struct replay_kind *k = &h->rd->kinds[h->kind];

	if (h->rd->helper) {
		h->page = h->rd->helper->alloc(h->rd->dev, k->name, h->size, true);
		h->live = h->page != NULL;
		if (h->live)
			h->phys = page_to_phys(h->page);
	} else if (k->dev) {
		h->cpu = dma_alloc_coherent(k->dev, h->size, &h->dma, GFP_KERNEL | __GFP_NOWARN);
		h->live = h->cpu != NULL;
		h->phys = h->dma;	/* virt has no dma-ranges: DMA and physical addresses are one */
	}
}

static void replay_free(struct replay_handle *h)
{
	struct replay_kind *k = &h->rd->kinds[h->kind];

	if (!h->live)
		return;
	if (h->rd->helper) {
		if (!h->rd->helper->release(h->rd->dev, k->name, h->page, h->size))
			pr_info("@R error helper release of %zu bytes refused\n", h->size);
	} else {
		dma_free_coherent(k->dev, h->size, h->cpu, h->dma);
	}
	h->live = false;
}

static int replay_print_area(struct cma *cma, void *data)
{
	phys_addr_t base = cma_get_base(cma);
	unsigned long size = cma_get_size(cma);

	pr_info("@R area %s %pa %lu\n", cma_get_name(cma), &base, size);
	return 0;
}

/* Frees what the scenario still holds, newest first (the model's pools do not care). */
static void replay_end(struct replay_handle *handles, u32 count)
{
	for (;;) {
		struct replay_handle *newest = NULL;
		u32 i;

		for (i = 0; i < count; i++)
			if (handles[i].live && (!newest || handles[i].serial > newest->serial))
				newest = &handles[i];
		if (!newest)
			return;
		replay_free(newest);
	}
}

static int __init replay_run(void)
{
	struct device_node *np = of_find_node_by_path("/dtgen-replay");
	struct replay_handle *handles = NULL;
	struct cma *fallback = dev_get_cma_area(NULL);
	u32 count = 0;
	int steps, i, serial = 0;

	if (!np)
		return 0;
	of_property_read_u32(np, "handles", &count);
	steps = of_property_count_strings(np, "script");
	pr_info("@R begin %d\n", steps);
	cma_for_each_area(replay_print_area, NULL);
	pr_info("@R default %s\n", fallback ? cma_get_name(fallback) : "-");
	handles = kcalloc(count ? count : 1, sizeof(*handles), GFP_KERNEL);
	if (!handles || steps < 0) {
		pr_info("@R error no script or no memory for %u handles\n", count);
		goto out;
	}
	for (i = 0; i < steps; i++) {
		char dev[64], kind[64], name[128];
		const char *step;
		unsigned long long size;
		u32 h;

		of_property_read_string_index(np, "script", i, &step);
		if (sscanf(step, "s %127s", name) == 1) {
			pr_info("@R scenario %s\n", name);
		} else if (sscanf(step, "a %u %63s %63s %llu", &h, dev, kind, &size) == 4 && h < count) {
			struct replay_handle *hd = &handles[h];

			hd->rd = replay_find(dev);
			hd->kind = hd->rd ? replay_kind_index(hd->rd, kind) : -1;
			if (hd->kind < 0) {
				pr_info("@R error step %d: no device kind %s/%s\n", i, dev, kind);
				continue;
			}
			hd->size = size;
			hd->serial = ++serial;
			replay_alloc(hd);
			if (hd->live)
				pr_info("@R alloc %u ok %pa\n", h, &hd->phys);
			else
				pr_info("@R alloc %u fail\n", h);
		} else if (sscanf(step, "f %u", &h) == 1 && h < count) {
			replay_free(&handles[h]);
			pr_info("@R free %u\n", h);
		} else if (!strcmp(step, "e")) {
			replay_end(handles, count);
		} else {
			pr_info("@R error step %d: unreadable: %s\n", i, step);
		}
	}
	replay_end(handles, count);
out:
	kfree(handles);
	of_node_put(np);
	pr_info("@R end %d\n", steps);
	return 0;
}
late_initcall_sync(replay_run);
