#ifndef TEST_LINUX_INIT_H
#define TEST_LINUX_INIT_H
#define __init __attribute__((__section__(".init.text"), __cold__))
#define __initdata __attribute__((__section__(".init.data")))
#endif
