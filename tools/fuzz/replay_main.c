/* replay_main.c - runs LLVMFuzzerTestOneInput over files and directories of inputs, for
 * compilers without libFuzzer (gcc): the corpus replay in CI. Exit 0 when every input ran. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = (uint8_t *)malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break;
        uint8_t *nb = (uint8_t *)realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(fp);
    if (!buf) return -1;
    /* an exact-size copy, so that ASan sees reads past the input's end */
    uint8_t *exact = (uint8_t *)malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            bad += run_file(argv[i]) != 0;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) return 1;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char **nn = (char **)realloc(names, (n + 1) * sizeof(char *));
            if (!nn) return 1;
            names = nn;
            names[n] = (char *)malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
            if (!names[n]) return 1;
            sprintf(names[n], "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), cmp);
        for (size_t j = 0; j < n; j++) {
            if (stat(names[j], &sb) == 0 && S_ISREG(sb.st_mode)) {
                bad += run_file(names[j]) != 0;
                files++;
            }
            free(names[j]);
        }
        free(names);
    }
    printf("replay: %d inputs run, %d unreadable\n", files, bad);
    return files > 0 && bad == 0 ? 0 : 1;
}
