#ifndef TEST_LINUX_CMA_H
#define TEST_LINUX_CMA_H
/* Declarations of the 2010 CMA patch set v6 that board code uses. */
#include <stddef.h>
typedef unsigned long phys_addr_t;
struct list_head { struct list_head *next, *prev; };
struct cma_allocator;
struct cma_region {
	const char *name;
	phys_addr_t start;
	size_t size;
	union {
		size_t free_space;	/* normal regions */
		phys_addr_t alignment;	/* early regions */
	};
	struct cma_allocator *alloc;
	const char *alloc_name;
	void *private_data;
	unsigned users;
	struct list_head list;
	unsigned used:1;
	unsigned registered:1;
	unsigned reserved:1;
	unsigned copy_name:1;
	unsigned free_alloc_name:1;
	unsigned use_isolate:1;
};
int cma_set_defaults(struct cma_region *regions, const char *map);
void cma_early_regions_reserve(int (*reserve)(struct cma_region *reg));
#endif
