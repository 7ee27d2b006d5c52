/* The portable core of the flossmeter strap reference firmware: see strap_core.h. */
#include "strap_core.h"

#define FM_NS_PER_S 1000000000u

/* -- device clock ------------------------------------------------------------------------------ */

/* The 32-bit microsecond clock extended to 64 bits. Calls arrive out of order by a little (a
 * sample stamped before a ping handled after it), so a time up to 2^31 µs behind the latest one
 * seen is taken as earlier, not as a wrap. */
static uint64_t fm_time(fm_core_t *c, uint32_t t_us) {
    uint32_t d;
    if (!c->clock_known) {
        c->clock_known = 1u;
        c->now32 = t_us;
        c->now64 = t_us;
        return c->now64;
    }
    d = t_us - c->now32;
    if (d < 0x80000000u) {
        c->now32 = t_us;
        c->now64 += d;
        return c->now64;
    }
    d = c->now32 - t_us;
    return c->now64 >= d ? c->now64 - d : 0u;
}

/* -- set-up ------------------------------------------------------------------------------------ */

static uint32_t fm_nominal_ns(uint16_t rate_hz) {
    return (FM_NS_PER_S + rate_hz / 2u) / rate_hz; /* round(1e9 / rate) */
}

static void fm_ring_clear(fm_core_t *c) {
    c->head = 0u;
    c->count = 0u;
    c->flush = 0u;
}

static void fm_set_rate(fm_core_t *c, uint16_t rate_hz) {
    c->rate_hz = rate_hz;
    c->nominal_ns = fm_nominal_ns(rate_hz);
    c->period_ns = c->nominal_ns;
    /* the profile: the counter counts from the first start at this rate */
    c->counting = 0u;
    c->anchored = 0u;
    c->next_seq = 0u;
    c->sampling = 0u;
    fm_ring_clear(c);
}

void fm_core_init(fm_core_t *c) {
    uint8_t *p = (uint8_t *)c;
    size_t i;
    for (i = 0; i < sizeof *c; i++) p[i] = 0u;
    c->rate_max_hz = FM_RATE_MAX_HZ;
    c->notify_interval_us = FM_CORE_NOTIFY_INTERVAL_US;
    c->acc_code = FM_ACC_CODE_MAX;   /* ±16 g */
    c->gyro_code = FM_GYRO_CODE_MAX; /* ±2000 °/s */
    c->mtu = 23u;
    fm_set_rate(c, 100u);
}

size_t fm_core_size(void) {
    return sizeof(fm_core_t);
}

void fm_core_set_info(fm_core_t *c, fm_channel_t which, const char *text) {
    char *dst;
    size_t i;
    if (which < FM_CH_FIRMWARE_REVISION || which > FM_CH_MANUFACTURER) return;
    dst = c->info[which - FM_CH_FIRMWARE_REVISION];
    for (i = 0; text != NULL && text[i] != '\0' && i + 1u < FM_CORE_INFO_MAX; i++) dst[i] = text[i];
    dst[i] = '\0';
}

void fm_core_set_rate_check(fm_core_t *c, fm_rate_ok_fn ok, void *ctx) {
    c->rate_ok = ok;
    c->rate_ctx = ctx;
}

void fm_core_set_limits(fm_core_t *c, uint16_t rate_max_hz, uint32_t notify_interval_us) {
    c->rate_max_hz = rate_max_hz;
    c->notify_interval_us = notify_interval_us;
}

/* -- link -------------------------------------------------------------------------------------- */

static void fm_replies_clear(fm_core_t *c) {
    c->reply_head = 0u;
    c->reply_count = 0u;
}

void fm_core_connected(fm_core_t *c, uint16_t att_mtu, uint32_t now_us) {
    (void)fm_time(c, now_us);
    c->connected = 1u;
    c->streaming = 0u;
    c->mtu = att_mtu;
    fm_ring_clear(c);
    fm_replies_clear(c);
    c->battery_pending = c->battery_known; /* the central learns the level on connecting */
}

void fm_core_set_mtu(fm_core_t *c, uint16_t att_mtu) {
    c->mtu = att_mtu;
}

void fm_core_disconnected(fm_core_t *c, uint32_t now_us) {
    c->disconnected_at = fm_time(c, now_us);
    c->connected = 0u;
    c->streaming = 0u;
    fm_ring_clear(c);
    fm_replies_clear(c);
    c->battery_pending = 0u;
}

uint8_t fm_core_samples_per_packet(const fm_core_t *c) {
    uint32_t fit, want;
    if (c->mtu < 3u + FM_HEADER_SIZE + FM_SAMPLE_SIZE) return 0u;
    fit = (uint32_t)(c->mtu - 3u - FM_HEADER_SIZE) / FM_SAMPLE_SIZE;
    if (fit > FM_MAX_SAMPLES) fit = FM_MAX_SAMPLES;
    /* round(rate × interval), halves up, as fm_samples_per_packet does for 20 ms */
    want = ((uint32_t)c->rate_hz * c->notify_interval_us + 500000u) / 1000000u;
    if (want < 1u) want = 1u;
    return (uint8_t)(want < fit ? want : fit);
}

/* -- control ----------------------------------------------------------------------------------- */

static void fm_reply(fm_core_t *c, const uint8_t *data, uint8_t len) {
    uint8_t slot, i;
    if (c->reply_count == FM_CORE_REPLIES) { /* full: the oldest reply is lost */
        c->reply_head = (uint8_t)((c->reply_head + 1u) % FM_CORE_REPLIES);
        c->reply_count--;
        c->stats[FM_STAT_REPLIES_DROPPED]++;
    }
    slot = (uint8_t)((c->reply_head + c->reply_count) % FM_CORE_REPLIES);
    for (i = 0; i < len; i++) c->reply[slot][i] = data[i];
    c->reply_len[slot] = len;
    c->reply_count++;
}

static void fm_answer(fm_core_t *c, uint8_t opcode, uint8_t result) {
    uint8_t r[2];
    r[0] = (uint8_t)(opcode | FM_RESPONSE);
    r[1] = result;
    fm_reply(c, r, 2u);
}

static uint8_t fm_start(fm_core_t *c) {
    if (fm_core_samples_per_packet(c) == 0u) return FM_BUSY; /* the MTU holds no sample */
    if (!c->streaming) {
        c->streaming = 1u;
        c->sampling = 1u;
        fm_ring_clear(c);
    }
    return FM_OK;
}

static void fm_stop(fm_core_t *c) {
    if (c->streaming) c->flush = 1u; /* the samples already taken still go out */
    c->streaming = 0u;
    c->sampling = 0u;
}

static uint8_t fm_rate_command(fm_core_t *c, const uint8_t *in, size_t len) {
    uint16_t rate;
    if (len < 3u) return FM_BAD_PARAMETER;
    rate = fm_get_u16(in + 1);
    if (rate < FM_RATE_MIN_HZ || rate > c->rate_max_hz) return FM_BAD_PARAMETER;
    if (c->rate_ok != NULL && !c->rate_ok(c->rate_ctx, rate)) return FM_BAD_PARAMETER;
    if (c->streaming) return FM_BUSY; /* the profile: the rate is set before start */
    if (rate != c->rate_hz) fm_set_rate(c, rate);
    return FM_OK;
}

void fm_core_write(fm_core_t *c, const uint8_t *data, size_t len, uint32_t now_us) {
    fm_command_t cmd;
    uint8_t result, out[FM_CORE_REPLY_MAX];
    uint64_t now = fm_time(c, now_us);
    if (len == 0u) return; /* no opcode to answer */
    c->stats[FM_STAT_COMMANDS]++;
    result = fm_parse_command(data, len, &cmd);
    switch (data[0]) {
    case FM_OP_START:
        result = fm_start(c);
        break;
    case FM_OP_STOP:
        fm_stop(c);
        break;
    case FM_OP_SET_RATE:
        result = fm_rate_command(c, data, len); /* rate_max_hz may exceed the header's bound */
        break;
    case FM_OP_SET_RANGES:
        if (result != FM_OK) break;
        if (c->streaming) {
            result = FM_BUSY; /* queued samples were taken at the old ranges */
            break;
        }
        c->acc_code = cmd.acc_code;
        c->gyro_code = cmd.gyro_code;
        break;
    case FM_OP_IDENTIFY:
        if (result == FM_OK) c->identify_until = now + (uint64_t)cmd.seconds * 1000000u;
        break;
    case FM_OP_TIME_SYNC:
        if (result != FM_OK) break;
        c->time_synced = 1u;
        fm_reply(c, out, (uint8_t)fm_pack_time_sync(out, cmd.token, now_us));
        return;
    default:
        break; /* fm_parse_command said FM_UNKNOWN_OPCODE */
    }
    fm_answer(c, data[0], result);
}

/* -- samples ----------------------------------------------------------------------------------- */

/* Re-anchor the period estimate at this sample (after a start or a gap: a new IMU phase). */
static void fm_anchor(fm_core_t *c, uint32_t seq, uint64_t t) {
    c->anchored = 1u;
    c->anchor_seq = seq;
    c->anchor_t = t;
}

/* The declared period: the one measured since the anchor if it differs from the nominal one by
 * more than FM_CORE_PERIOD_SNAP_PPM once FM_CORE_PERIOD_SPAN_US of stream were seen. */
static void fm_update_period(fm_core_t *c, uint32_t seq, uint64_t t) {
    uint64_t span = t - c->anchor_t, est, diff;
    uint32_t n = seq - c->anchor_seq;
    if (span < FM_CORE_PERIOD_SPAN_US || n == 0u) return;
    est = (span * 1000u + n / 2u) / n;
    diff = est > c->nominal_ns ? est - c->nominal_ns : c->nominal_ns - est;
    c->period_ns = diff * 1000000u > (uint64_t)FM_CORE_PERIOD_SNAP_PPM * c->nominal_ns
                       ? (uint32_t)est
                       : c->nominal_ns;
}

void fm_core_push(fm_core_t *c, const fm_sample_t *s, uint32_t t_us, int clipped) {
    uint64_t t = fm_time(c, t_us);
    uint32_t seq;
    fm_core_slot_t *slot;
    if (!c->sampling) return;
    c->stats[FM_STAT_SAMPLES_IN]++;
    if (!c->counting) {
        c->counting = 1u;
        c->next_seq = 0u;
        fm_anchor(c, 0u, t);
    } else if (t > c->last_t) {
        /* The counter counts sample periods, also those without a sample (the IMU was stopped
         * or a sample was lost on its way): a step of more than 1.5 periods is a gap. */
        uint64_t dt_ns = (t - c->last_t) * 1000u;
        if (2u * dt_ns > 3u * (uint64_t)c->period_ns) {
            uint32_t missed = (uint32_t)((dt_ns + c->period_ns / 2u) / c->period_ns) - 1u;
            c->next_seq += missed;
            c->stats[FM_STAT_SAMPLES_SKIPPED] += missed;
            fm_anchor(c, c->next_seq, t);
        }
    }
    seq = c->next_seq++;
    c->last_t = t;
    if (c->anchored) fm_update_period(c, seq, t);
    if (!c->streaming || !c->connected) return;
    if (c->count == FM_CORE_RING_SAMPLES) { /* full: the oldest sample is lost (a gap) */
        c->head = (uint16_t)((c->head + 1u) % FM_CORE_RING_SAMPLES);
        c->count--;
        c->stats[FM_STAT_SAMPLES_OVERWRITTEN]++;
    }
    slot = &c->ring[(c->head + c->count) % FM_CORE_RING_SAMPLES];
    slot->sample = *s;
    slot->seq = seq;
    slot->t_us = t_us;
    slot->clipped = (uint8_t)(clipped != 0);
    c->count++;
}

/* One data packet: the oldest run of consecutive samples, N of them (fewer when a gap follows
 * them, or at the end of a stream). */
static size_t fm_take_data(fm_core_t *c, uint8_t *out, size_t cap) {
    fm_sample_t samples[FM_MAX_SAMPLES];
    const fm_core_slot_t *first = &c->ring[c->head];
    uint8_t want = fm_core_samples_per_packet(c), run = 1u, status = 0u, i;
    size_t len;
    if (!c->connected || (!c->streaming && !c->flush) || c->count == 0u || want == 0u) return 0u;
    while (run < want && run < c->count &&
           c->ring[(c->head + run) % FM_CORE_RING_SAMPLES].seq == first->seq + run)
        run++;
    if (run < want && run == c->count && !c->flush) return 0u; /* wait for the rest */
    for (i = 0; i < run; i++) {
        const fm_core_slot_t *sl = &c->ring[(c->head + i) % FM_CORE_RING_SAMPLES];
        samples[i] = sl->sample;
        if (sl->clipped) status |= FM_STATUS_CLIPPED;
    }
    if (c->time_synced) status |= FM_STATUS_TIME_SYNCED;
    len = fm_pack_data(out, cap, first->seq, first->t_us, c->period_ns, c->acc_code, c->gyro_code,
                       status, samples, run);
    if (len == 0u) return 0u;
    c->head = (uint16_t)((c->head + run) % FM_CORE_RING_SAMPLES);
    c->count = (uint16_t)(c->count - run);
    if (c->count == 0u) c->flush = 0u;
    c->stats[FM_STAT_PACKETS]++;
    c->stats[FM_STAT_SAMPLES_SENT] += run;
    return len;
}

size_t fm_core_take(fm_core_t *c, fm_channel_t ch, uint8_t *out, size_t cap) {
    uint8_t len, i;
    switch (ch) {
    case FM_CH_DATA:
        return fm_take_data(c, out, cap);
    case FM_CH_CONTROL:
        if (c->reply_count == 0u || !c->connected) return 0u;
        len = c->reply_len[c->reply_head];
        if (len > cap) return 0u;
        for (i = 0; i < len; i++) out[i] = c->reply[c->reply_head][i];
        c->reply_head = (uint8_t)((c->reply_head + 1u) % FM_CORE_REPLIES);
        c->reply_count--;
        return len;
    case FM_CH_BATTERY:
        if (!c->battery_pending || !c->connected || cap < 1u) return 0u;
        c->battery_pending = 0u;
        out[0] = c->battery;
        return 1u;
    default:
        return 0u;
    }
}

size_t fm_core_read(const fm_core_t *c, fm_channel_t ch, uint8_t *out, size_t cap) {
    const char *text;
    size_t n;
    switch (ch) {
    case FM_CH_CONTROL:
        if (cap < FM_CORE_STATE_SIZE) return 0u;
        out[0] = c->streaming;
        fm_put_u16(out + 1, c->rate_hz);
        out[3] = c->acc_code;
        out[4] = c->gyro_code;
        out[5] = (uint8_t)(c->time_synced ? FM_STATUS_TIME_SYNCED : 0u);
        return FM_CORE_STATE_SIZE;
    case FM_CH_BATTERY:
        if (!c->battery_known || cap < 1u) return 0u;
        out[0] = c->battery;
        return 1u;
    case FM_CH_FIRMWARE_REVISION:
    case FM_CH_MODEL_NUMBER:
    case FM_CH_MANUFACTURER:
        text = c->info[ch - FM_CH_FIRMWARE_REVISION];
        for (n = 0; text[n] != '\0'; n++) {
            if (n == cap) return 0u;
            out[n] = (uint8_t)text[n];
        }
        return n;
    default:
        return 0u;
    }
}

/* -- battery, identify, housekeeping ----------------------------------------------------------- */

/* A single LiPo cell at rest, mV → % (a commonly quoted discharge curve at room temperature;
 * cells differ: calibrate for yours). */
static const uint16_t fm_lipo_mv[] = {3270u, 3610u, 3690u, 3710u, 3730u, 3750u, 3770u,
                                      3790u, 3800u, 3820u, 3840u, 3850u, 3870u, 3910u,
                                      3950u, 3980u, 4020u, 4080u, 4110u, 4150u, 4200u};
#define FM_LIPO_POINTS (sizeof fm_lipo_mv / sizeof fm_lipo_mv[0])

uint8_t fm_core_battery_percent(uint16_t mv) {
    uint32_t i, v0, v1, p0, p1;
    if (mv <= fm_lipo_mv[0]) return 0u;
    if (mv >= fm_lipo_mv[FM_LIPO_POINTS - 1u]) return 100u;
    for (i = 1u; fm_lipo_mv[i] < mv; i++) continue;
    v0 = fm_lipo_mv[i - 1u];
    v1 = fm_lipo_mv[i];
    p0 = 5u * (i - 1u); /* the points are 5 % apart */
    p1 = 5u * i;
    /* linear between the points, halves rounded up */
    return (uint8_t)(p0 + (2u * (mv - v0) * (p1 - p0) + (v1 - v0)) / (2u * (v1 - v0)));
}

void fm_core_set_battery_mv(fm_core_t *c, uint16_t mv) {
    uint8_t level = fm_core_battery_percent(mv);
    uint8_t step = (uint8_t)(level > c->battery ? level - c->battery : c->battery - level);
    if (!c->battery_known || step >= FM_CORE_BATTERY_STEP) {
        c->battery = level;
        c->battery_known = 1u;
        c->battery_pending = c->connected;
    }
}

void fm_core_tick(fm_core_t *c, uint32_t now_us) {
    uint64_t now = fm_time(c, now_us);
    if (!c->connected && c->sampling && now - c->disconnected_at >= FM_CORE_IDLE_STOP_US)
        c->sampling = 0u; /* nobody came back: save the battery */
}

int fm_core_led(fm_core_t *c, uint32_t now_us) {
    uint64_t now = fm_time(c, now_us);
    if (now >= c->identify_until) return 0;
    /* lit for the first 250 ms of every 500 ms since the command (it lasts whole seconds) */
    return (int)(((c->identify_until - now + 249999u) / 250000u) % 2u == 0u);
}

int fm_core_sampling(const fm_core_t *c) {
    return c->sampling;
}

int fm_core_streaming(const fm_core_t *c) {
    return c->streaming;
}

uint16_t fm_core_rate_hz(const fm_core_t *c) {
    return c->rate_hz;
}

void fm_core_ranges(const fm_core_t *c, uint8_t *acc_code, uint8_t *gyro_code) {
    *acc_code = c->acc_code;
    *gyro_code = c->gyro_code;
}

uint32_t fm_core_period_ns(const fm_core_t *c) {
    return c->period_ns;
}

uint32_t fm_core_stat(const fm_core_t *c, fm_stat_t which) {
    return which < FM_STAT_COUNT ? c->stats[which] : 0u;
}
