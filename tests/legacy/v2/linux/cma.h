#ifndef TEST_LINUX_CMA_H
#define TEST_LINUX_CMA_H
/* Declarations of the 2010 CMA patch set v2 that board code calls. */
struct cma_region;
int cma_set_defaults(const char *regions, const char *map, const char *asterisk);
void cma_early_regions_reserve(int (*reserve)(struct cma_region *reg));
#endif
