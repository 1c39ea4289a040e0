/* One intrusive doubly linked list for every list in the library. Internal.
 *
 * A list is a circular ring through a sentinel link (libuv's queue.h shape):
 * no NULL ends, so linking and unlinking never need to know the list, and an
 * element can leave whatever list holds it. An unlinked element's links are
 * NULL, which tells it apart from a linked one. A list holds links embedded
 * in its elements; AMY__CONTAINER gets back from a link to its element.
 */
#ifndef AMY_LIST_H
#define AMY_LIST_H

#include <stddef.h>

typedef struct amy__link {
    struct amy__link *next, *prev;
} amy__link;

/* The element of type `type` whose member `member` is the link l. */
#define AMY__CONTAINER(l, type, member)                                        \
    ((type *)(void *)((char *)(l)-offsetof(type, member)))

static inline void amy__list_init(amy__link *list)
{
    list->next = list->prev = list;
}

static inline int amy__list_empty(const amy__link *list)
{
    return list->next == list;
}

/* The first link of the list, or NULL when it is empty. */
static inline amy__link *amy__list_first(const amy__link *list)
{
    return list->next == list ? NULL : list->next;
}

/* The link after l, or NULL when l is the last. */
static inline amy__link *amy__list_next(const amy__link *list,
                                        const amy__link *l)
{
    return l->next == list ? NULL : l->next;
}

static inline int amy__link_linked(const amy__link *l)
{
    return l->next != NULL;
}

static inline void amy__list_push_back(amy__link *list, amy__link *l)
{
    l->next = list;
    l->prev = list->prev;
    list->prev->next = l;
    list->prev = l;
}

static inline void amy__list_push_front(amy__link *list, amy__link *l)
{
    l->prev = list;
    l->next = list->next;
    list->next->prev = l;
    list->next = l;
}

/* Takes l out of whatever list holds it; a no-op when it is in none. */
static inline void amy__list_remove(amy__link *l)
{
    if (!l->next)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

/* Moves every element of src to the (empty) list dst; src is left empty. */
static inline void amy__list_move(amy__link *dst, amy__link *src)
{
    if (amy__list_empty(src)) {
        amy__list_init(dst);
        return;
    }
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    amy__list_init(src);
}

#endif
