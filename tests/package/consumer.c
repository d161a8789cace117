/* consumer.c - the ten-line program CI builds against the installed package. */
#include <stdio.h>
#include <w4a16.h>

int main(void)
{
    size_t bytes = 0;
    const w4a16_status st = w4a16_packed_size(4096, 4096, &bytes);
    printf("w4a16 %d: packed 4096x4096 = %zu bytes (%s)\n", w4a16_version(), bytes, w4a16_status_string(st));
    return st == W4A16_SUCCESS && w4a16_version() == 100 ? 0 : 1;
}
