/*
 * The alert rules judged on capture events: mappings that the eBPF capture
 * reported, whether or not a snapshot ever shows them (core/alerts.h).
 */
#include <errno.h>
#include <string.h>

#include "core/alerts.h"
#include "core/alerts_int.h"

int alerts_event_map(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                     int is_new, int identity_known, struct alert_events *out) {
        size_t before = out->n;
        struct alerts_verdict v;
        int r;

        if (!s->attached)
                return 0;
        s->ops->begin(s->ctx, &s->proc);
        alerts_judge_region(s, snap, reg, is_new, 0, &v);
        s->ops->end(s->ctx);
        if (!identity_known)
                v.holds &= ALERTS_RULE_BIT(ALERT_WX);
        if (!v.holds)
                return 0;
        r = alerts_raise_held(s, snap, reg, &v, out);
        /* What was just raised waits for a snapshot to confirm its region. */
        for (size_t k = before; k < out->n; k++) {
                size_t i = alerts_lower_bound(s, out->v[k].start, out->v[k].rule);

                if (out->v[k].change != ALERT_RAISED || i >= s->n_active || s->active[i].from_event)
                        continue;
                s->active[i].from_event = 1;
                s->n_from_event++;
        }
        return r < 0 ? r : (int)(out->n - before);
}

int alerts_event_unmap(struct alert_state *s, uint64_t start, uint64_t end, const char *why,
                       struct alert_events *out) {
        size_t before = out->n, i = alerts_lower_bound(s, start, (enum alert_rule)0);
        int r = 0;

        while (r == 0 && i < s->n_active && s->active[i].start < end) {
                if (alert_rule_info(s->active[i].rule)->per_region)
                        r = alerts_clear_at(s, i, why, out);
                else
                        i++;
        }
        return r < 0 ? r : (int)(out->n - before);
}

/* Whether region reg of cur is the mapping alert a was raised on: the same
 * file (device and inode), or anonymous memory of the same name. */
static int same_mapping(const struct alert_active *a, const struct maps_snapshot *cur,
                        const struct region *reg) {
        if (a->dev_major != reg->dev_major || a->dev_minor != reg->dev_minor || a->inode != reg->inode)
                return 0;
        if (a->inode != 0)
                return 1;
        return a->path_len == reg->path_len &&
               memcmp(a->text + a->path_off, region_path(cur, reg), a->path_len) == 0;
}

/* The region of cur that starts at start, or NULL. */
static const struct region *region_at(const struct maps_snapshot *cur, uint64_t start) {
        size_t lo = 0, hi = cur->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (cur->regions[mid].start < start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < cur->n && cur->regions[lo].start == start ? &cur->regions[lo] : NULL;
}

int alerts_event_settle(struct alert_state *s, const struct maps_snapshot *cur, struct alert_events *out) {
        size_t before = out->n, i = 0;
        int r = 0;

        while (r == 0 && s->n_from_event > 0 && i < s->n_active) {
                struct alert_active *a = &s->active[i];
                const struct region *reg;

                if (!a->from_event) {
                        i++;
                        continue;
                }
                reg = region_at(cur, a->start);
                if (reg && same_mapping(a, cur, reg)) {
                        a->from_event = 0;
                        s->n_from_event--;
                        i++;
                        continue;
                }
                r = alerts_clear_at(s, i, "region gone by the next snapshot", out);
        }
        return r < 0 ? r : (int)(out->n - before);
}
