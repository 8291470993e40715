/* Consumer-group committed offsets (see groups.h). In memory each group is
 * a sorted vector of topics, each an array of offsets indexed by partition
 * (-1 where nothing was committed). On disk each group is one file:
 *   {"version":1,"group":"g","offsets":{"orders":{"0":42,"1":7}}}
 */
#include "storage/groups.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/logmsg.h"
#include "flyq/store.h"
#include "storage/fsutil.h"
#include "storage/names.h"

#define GROUP_VERSION 1
#define GROUP_SUFFIX ".json"

typedef struct group_topic {
  char *name;       /* topic; first member, see flyq__namevec_t */
  int64_t *offsets; /* by partition; -1: no commit */
  int32_t n;
} group_topic_t;

typedef struct group {
  char *name; /* first member, see flyq__namevec_t */
  int dirty;  /* changed since last written */
  flyq__namevec_t topics; /* of group_topic_t */
} group_t;

struct flyq__groups {
  char *dir;
  flyq__namevec_t groups; /* of group_t */
};

/* ---- in memory ---- */

static void topic_free(group_topic_t *gt) {
  free(gt->name);
  free(gt->offsets);
  free(gt);
}

static void group_free(group_t *g) {
  for (size_t i = 0; i < g->topics.n; i++) topic_free(g->topics.items[i]);
  flyq__namevec_free(&g->topics);
  free(g->name);
  free(g);
}

/* Returns a new named item of size bytes (zeroed) or NULL. */
static void *named_new(size_t size, const char *name) {
  char **item = calloc(1, size);
  if (item == NULL) return NULL;
  if ((*item = strdup(name)) == NULL) {
    free(item);
    return NULL;
  }
  return item;
}

/* Finds name in v or inserts a new item of size bytes for it. */
static void *find_or_add(flyq__namevec_t *v, const char *name, size_t size) {
  size_t pos;
  void *item;
  if (flyq__namevec_find(v, name, &pos)) return v->items[pos];
  if (flyq__namevec_reserve(v) != 0) return NULL;
  if ((item = named_new(size, name)) == NULL) return NULL;
  flyq__namevec_insert(v, pos, item); /* cannot fail after reserve */
  return item;
}

static group_t *group_find(const flyq__groups_t *gs, const char *group) {
  size_t pos;
  if (!flyq__namevec_find(&gs->groups, group, &pos)) return NULL;
  return gs->groups.items[pos];
}

/* Sets offsets[p] of gt, growing the array with -1 entries. Returns 1 if
 * the value changed, 0 if not, -ENOMEM. */
static int topic_set(group_topic_t *gt, int32_t p, int64_t offset) {
  if (p >= gt->n) {
    int64_t *v = realloc(gt->offsets, ((size_t)p + 1) * sizeof *v);
    if (v == NULL) return -ENOMEM;
    for (int32_t i = gt->n; i <= p; i++) v[i] = -1;
    gt->offsets = v;
    gt->n = p + 1;
  }
  if (gt->offsets[p] == offset) return 0;
  gt->offsets[p] = offset;
  return 1;
}

/* Sets an offset in g; returns as topic_set(). */
static int group_set(group_t *g, const char *topic, int32_t p,
                     int64_t offset) {
  group_topic_t *gt = find_or_add(&g->topics, topic, sizeof *gt);
  return gt ? topic_set(gt, p, offset) : -ENOMEM;
}

int flyq__groups_commit(flyq__groups_t *gs, const char *group,
                        const char *topic, int32_t partition, int64_t offset) {
  group_t *g = find_or_add(&gs->groups, group, sizeof *g);
  int r;
  if (g == NULL) return -ENOMEM;
  r = group_set(g, topic, partition, offset);
  if (r < 0) return r;
  if (r > 0) g->dirty = 1;
  return 0;
}

int flyq__groups_fetch(const flyq__groups_t *gs, const char *group,
                       const char *topic, int32_t partition, int64_t *offset) {
  group_t *g = group_find(gs, group);
  group_topic_t *gt;
  size_t pos;
  if (g == NULL || !flyq__namevec_find(&g->topics, topic, &pos))
    return FLYQ_ERR_NOT_FOUND;
  gt = g->topics.items[pos];
  if (partition < 0 || partition >= gt->n || gt->offsets[partition] < 0)
    return FLYQ_ERR_NOT_FOUND;
  *offset = gt->offsets[partition];
  return 0;
}

int flyq__groups_foreach_offset(const flyq__groups_t *gs, const char *group,
                                int (*fn)(const char *topic, int32_t partition,
                                          int64_t offset, void *arg),
                                void *arg) {
  group_t *g = group_find(gs, group);
  if (g == NULL) return FLYQ_ERR_NOT_FOUND;
  for (size_t i = 0; i < g->topics.n; i++) {
    group_topic_t *gt = g->topics.items[i];
    for (int32_t p = 0; p < gt->n; p++) {
      int r = gt->offsets[p] < 0 ? 0 : fn(gt->name, p, gt->offsets[p], arg);
      if (r != 0) return r;
    }
  }
  return 0;
}

int flyq__groups_foreach_group(const flyq__groups_t *gs,
                               int (*fn)(const char *group, void *arg),
                               void *arg) {
  for (size_t i = 0; i < gs->groups.n; i++) {
    int r = fn(((group_t *)gs->groups.items[i])->name, arg);
    if (r != 0) return r;
  }
  return 0;
}

void flyq__groups_drop_topic(flyq__groups_t *gs, const char *topic) {
  for (size_t i = 0; i < gs->groups.n; i++) {
    group_t *g = gs->groups.items[i];
    size_t pos;
    if (!flyq__namevec_find(&g->topics, topic, &pos)) continue;
    topic_free(flyq__namevec_remove(&g->topics, pos));
    g->dirty = 1;
  }
}

/* Cuts gt down to n partitions; returns 1 if a commit was dropped. */
static int topic_truncate(group_topic_t *gt, int32_t n) {
  int dropped = 0;
  for (int32_t p = n; p < gt->n; p++) dropped |= gt->offsets[p] >= 0;
  if (n < gt->n) gt->n = n;
  return dropped;
}

static void group_prune(group_t *g,
                        int32_t (*partitions)(const char *topic, void *arg),
                        void *arg) {
  for (size_t i = g->topics.n; i-- > 0;) {
    group_topic_t *gt = g->topics.items[i];
    int32_t n = partitions(gt->name, arg);
    if (topic_truncate(gt, n)) g->dirty = 1;
    if (n == 0) topic_free(flyq__namevec_remove(&g->topics, i));
  }
}

void flyq__groups_prune(flyq__groups_t *gs,
                        int32_t (*partitions)(const char *topic, void *arg),
                        void *arg) {
  for (size_t i = 0; i < gs->groups.n; i++)
    group_prune(gs->groups.items[i], partitions, arg);
}

void flyq__groups_free(flyq__groups_t *gs) {
  if (gs == NULL) return;
  for (size_t i = 0; i < gs->groups.n; i++) group_free(gs->groups.items[i]);
  flyq__namevec_free(&gs->groups);
  free(gs->dir);
  free(gs);
}

/* ---- files ---- */

static char *group_path(const flyq__groups_t *gs, const char *group) {
  char *path;
  if (asprintf(&path, "%s/%s%s", gs->dir, group, GROUP_SUFFIX) < 0)
    return NULL;
  return path;
}

/* {"0": 42, ...} for the committed partitions of gt. */
static json_t *topic_to_json(const group_topic_t *gt) {
  json_t *o = json_object();
  char key[16];
  for (int32_t p = 0; o != NULL && p < gt->n; p++) {
    if (gt->offsets[p] < 0) continue;
    snprintf(key, sizeof key, "%d", (int)p);
    if (json_object_set_new(o, key, json_integer(gt->offsets[p])) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  return o;
}

static json_t *group_to_json(const group_t *g) {
  json_t *offsets = json_object();
  for (size_t i = 0; offsets != NULL && i < g->topics.n; i++) {
    group_topic_t *gt = g->topics.items[i];
    if (json_object_set_new(offsets, gt->name, topic_to_json(gt)) != 0) {
      json_decref(offsets);
      offsets = NULL;
    }
  }
  if (offsets == NULL) return NULL;
  return json_pack("{s:i, s:s, s:o}", "version", GROUP_VERSION, "group",
                   g->name, "offsets", offsets);
}

static int group_write(const flyq__groups_t *gs, group_t *g) {
  json_t *j = group_to_json(g);
  char *path = group_path(gs, g->name);
  int r = (j == NULL || path == NULL) ? -ENOMEM : 0;
  if (r == 0) r = flyq__write_json_atomic(path, j);
  if (r == 0) g->dirty = 0;
  if (r != 0)
    flyq_logmsg(FLYQ_LOG_ERROR, "storage",
                "cannot write offsets of group %s: %s", g->name,
                flyq_strerror(r));
  json_decref(j);
  free(path);
  return r;
}

int flyq__groups_flush(flyq__groups_t *gs) {
  int first = 0;
  for (size_t i = 0; i < gs->groups.n; i++) {
    group_t *g = gs->groups.items[i];
    int r = g->dirty ? group_write(gs, g) : 0;
    if (first == 0) first = r;
  }
  return first;
}

/* Adds the offsets {"0": 42, ...} of topic to g. */
static int topic_from_json(group_t *g, const char *topic, const json_t *o) {
  const char *key;
  json_t *v;
  if (flyq_name_validate(topic) != 0 || !json_is_object(o))
    return FLYQ_ERR_CORRUPT;
  json_object_foreach((json_t *)o, key, v) {
    int32_t p;
    if (flyq__partition_parse(key, &p) != 0 || !json_is_integer(v) ||
        json_integer_value(v) < 0)
      return FLYQ_ERR_CORRUPT;
    if (group_set(g, topic, p, json_integer_value(v)) < 0) return -ENOMEM;
  }
  return 0;
}

/* Fills g (empty, named) from the parsed file j. */
static int group_from_json(group_t *g, const json_t *j) {
  json_t *version = json_object_get(j, "version");
  const char *name = json_string_value(json_object_get(j, "group"));
  json_t *offsets = json_object_get(j, "offsets"), *v;
  const char *topic;
  if (!json_is_integer(version) || json_integer_value(version) != GROUP_VERSION)
    return FLYQ_ERR_CORRUPT;
  if (name == NULL || strcmp(name, g->name) != 0 || !json_is_object(offsets))
    return FLYQ_ERR_CORRUPT;
  json_object_foreach(offsets, topic, v) {
    int r = topic_from_json(g, topic, v);
    if (r != 0) return r;
  }
  return 0;
}

/* Loads the file of group into a new group_t; *out NULL when the file is
 * to be ignored. */
static int group_load(const flyq__groups_t *gs, const char *group,
                      group_t **out) {
  char *path = group_path(gs, group), why[160] = "invalid content";
  json_t *j = NULL;
  group_t *g = named_new(sizeof *g, group);
  int r = (path == NULL || g == NULL) ? -ENOMEM : 0;
  if (r == 0) r = flyq__read_json(path, &j, why, sizeof why);
  if (r == 0) r = group_from_json(g, j);
  if (r != 0 && r != -ENOMEM) {
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "ignoring offsets file of group %s (%s): left as is until the "
                "group commits again", group, why);
    r = 0;
  }
  if (r != 0 || j == NULL) {
    if (g != NULL) group_free(g);
    g = NULL;
  }
  json_decref(j);
  free(path);
  *out = g;
  return r;
}

/* Handles one directory entry: removes temporary files, loads groups. */
static int load_entry(flyq__groups_t *gs, const char *entry) {
  size_t len = strlen(entry), pos;
  char group[FLYQ_NAME_MAX + 1];
  group_t *g;
  int r;
  if (flyq__has_suffix(entry, FLYQ_TMP_SUFFIX)) {
    char *path = flyq__path_join(gs->dir, entry);
    if (path != NULL && unlink(path) == 0)
      flyq_logmsg(FLYQ_LOG_INFO, "storage", "removed leftover %s", path);
    free(path);
    return 0;
  }
  if (!flyq__has_suffix(entry, GROUP_SUFFIX)) return 0;
  len -= strlen(GROUP_SUFFIX);
  if (len == 0 || len > FLYQ_NAME_MAX) return 0;
  memcpy(group, entry, len);
  group[len] = '\0';
  if (flyq_name_validate(group) != 0) return 0;
  if ((r = group_load(gs, group, &g)) != 0 || g == NULL) return r;
  flyq__namevec_find(&gs->groups, group, &pos);
  if ((r = flyq__namevec_insert(&gs->groups, pos, g)) != 0) group_free(g);
  return r;
}

static int load_all(flyq__groups_t *gs) {
  char **names;
  size_t count;
  int r = flyq__list_dir(gs->dir, &names, &count);
  if (r != 0) return r;
  for (size_t i = 0; r == 0 && i < count; i++) r = load_entry(gs, names[i]);
  flyq__list_free(names, count);
  return r;
}

int flyq__groups_open(const char *dir, flyq__groups_t **out) {
  flyq__groups_t *gs = calloc(1, sizeof *gs);
  int r = 0;
  if (gs == NULL || (gs->dir = strdup(dir)) == NULL) r = -ENOMEM;
  if (r == 0) r = flyq__mkdir_p(dir);
  if (r == 0) r = load_all(gs);
  if (r != 0) {
    flyq__groups_free(gs);
    return r;
  }
  *out = gs;
  return 0;
}
