/* configs.c - the table of compiled kernel configurations and the heuristic. */
#include "internal.h"

static int simt_supports(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 1;
}

static size_t no_workspace(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 0;
}

static const w4a16_config configs[] = {
    {"simt_ref", w4a16_launch_simt, simt_supports, no_workspace},
};

int w4a16_config_count(void) { return (int)(sizeof configs / sizeof configs[0]); }

const char *w4a16_config_name(int index)
{
    return index >= 0 && index < w4a16_config_count() ? configs[index].name : NULL;
}

const w4a16_config *w4a16_get_config(int index) { return &configs[index]; }

int w4a16_heuristic(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 0;
}
