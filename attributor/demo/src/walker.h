/*
 * walker.h - read-only directory listing.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Lists file names only; it never
 * opens, modifies, moves or deletes any file.
 */
#ifndef DEMO_WALKER_H
#define DEMO_WALKER_H

#define WALK_MAX_NAMES 128
#define WALK_NAME_LEN 260

typedef struct {
    char names[WALK_MAX_NAMES][WALK_NAME_LEN];
    int count;
    int dropped;
} walk_list;

void walk_list_init(walk_list *list);
int walk_list_add(walk_list *list, const char *name);
int walk_join_path(char *out, int outsz, const char *dir, const char *name);
int walk_wanted(const char *name, const char *const *exts, int nexts);
int walk_directory(const char *dir, int depth, walk_list *list, const char *const *exts, int nexts);
void walk_sort(walk_list *list);
int walk_print(const walk_list *list, int limit);

#endif
