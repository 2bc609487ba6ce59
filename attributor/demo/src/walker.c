/*
 * walker.c - read-only directory listing: opendir/readdir on POSIX, FindFirstFileA on Windows.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. It only collects names into a fixed
 * in-memory list and prints them; nothing on disk is opened for writing or changed.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* lstat */
#endif

#include "walker.h"

#include <stdio.h>
#include <string.h>

#include "libcommon.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dirent.h>
#include <sys/stat.h>
#endif

void walk_list_init(walk_list *list)
{
    list->count = 0;
    list->dropped = 0;
}

/* Append a name; returns 0 (and counts the loss) when the list is full. */
int walk_list_add(walk_list *list, const char *name)
{
    if (list->count >= WALK_MAX_NAMES) {
        list->dropped++;
        return 0;
    }
    cm_strlcpy(list->names[list->count], name, WALK_NAME_LEN);
    list->count++;
    return 1;
}

int walk_join_path(char *out, int outsz, const char *dir, const char *name)
{
#ifdef _WIN32
    const char sep = '\\';
#else
    const char sep = '/';
#endif
    size_t dl = strlen(dir);
    int n;
    if (dl > 0 && (dir[dl - 1] == '/' || dir[dl - 1] == '\\'))
        n = snprintf(out, (size_t)outsz, "%s%s", dir, name);
    else
        n = snprintf(out, (size_t)outsz, "%s%c%s", dir, sep, name);
    return n > 0 && n < outsz;
}

/* True when name ends with one of exts (case-insensitive); no filter means everything. */
int walk_wanted(const char *name, const char *const *exts, int nexts)
{
    int i;
    if (nexts == 0)
        return 1;
    for (i = 0; i < nexts; i++) {
        if (cm_ends_with_nocase(name, exts[i]))
            return 1;
    }
    return 0;
}

static int walk_skip_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

#ifdef _WIN32
int walk_directory(const char *dir, int depth, walk_list *list, const char *const *exts, int nexts)
{
    char pattern[WALK_NAME_LEN], child[WALK_NAME_LEN];
    WIN32_FIND_DATAA fd;
    HANDLE h;
    int seen = 0;
    if (!walk_join_path(pattern, sizeof pattern, dir, "*"))
        return -1;
    h = FindFirstFileA(pattern, &fd);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    do {
        if (walk_skip_entry(fd.cFileName))
            continue;
        if (!walk_join_path(child, sizeof child, dir, fd.cFileName))
            continue;
        seen++;
        if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
            if (depth > 0)
                seen += walk_directory(child, depth - 1, list, exts, nexts);
        } else if (walk_wanted(fd.cFileName, exts, nexts)) {
            walk_list_add(list, child);
        }
    } while (FindNextFileA(h, &fd));
    FindClose(h);
    return seen;
}
#else
int walk_directory(const char *dir, int depth, walk_list *list, const char *const *exts, int nexts)
{
    char child[WALK_NAME_LEN];
    struct dirent *ent;
    struct stat st;
    DIR *d = opendir(dir);
    int seen = 0;
    if (d == NULL)
        return -1;
    while ((ent = readdir(d)) != NULL) {
        if (walk_skip_entry(ent->d_name))
            continue;
        if (!walk_join_path(child, sizeof child, dir, ent->d_name))
            continue;
        seen++;
        if (lstat(child, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0)
                seen += walk_directory(child, depth - 1, list, exts, nexts);
        } else if (walk_wanted(ent->d_name, exts, nexts)) {
            walk_list_add(list, child);
        }
    }
    closedir(d);
    return seen;
}
#endif

/* Insertion sort: the list is small and this keeps the routine self-contained. */
void walk_sort(walk_list *list)
{
    static char tmp[WALK_NAME_LEN];
    int i, j;
    for (i = 1; i < list->count; i++) {
        memcpy(tmp, list->names[i], WALK_NAME_LEN);
        j = i - 1;
        while (j >= 0 && strcmp(list->names[j], tmp) > 0) {
            memcpy(list->names[j + 1], list->names[j], WALK_NAME_LEN);
            j--;
        }
        memcpy(list->names[j + 1], tmp, WALK_NAME_LEN);
    }
}

int walk_print(const walk_list *list, int limit)
{
    int i, shown = 0;
    for (i = 0; i < list->count && i < limit; i++) {
        printf("  [%03d] %s\n", i, list->names[i]);
        shown++;
    }
    if (list->count > limit || list->dropped)
        printf("  ... %d more, %d dropped\n", list->count - shown, list->dropped);
    return shown;
}
