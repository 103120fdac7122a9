#ifndef TEST_LINUX_KERNEL_H
#define TEST_LINUX_KERNEL_H
#include <stddef.h>	/* linux/kernel.h brings in NULL through linux/stddef.h */
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define pr_err(fmt, ...) printk(fmt, ##__VA_ARGS__)
#endif
