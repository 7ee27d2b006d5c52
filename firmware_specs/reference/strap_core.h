/* The portable core of the flossmeter strap reference firmware (C99, no malloc, no platform calls).
 *
 * It runs the strap profile of firmware_specs/flossmeter_strap.md: it counts samples, keeps them
 * in a ring buffer, packs them into data packets with sequence numbers and device time, answers
 * control commands and time-sync pings, reports the battery level and the device information.
 * Everything that touches hardware stays in the board glue (boards/), which
 *
 *   - passes the device clock in, as a free-running microsecond counter (uint32_t, wrapping), on
 *     every call that needs it, and calls fm_core_tick() at least once a second;
 *   - pushes every IMU sample with the device time it was taken (fm_core_push) while
 *     fm_core_sampling() says so, at fm_core_rate_hz() and the ranges of fm_core_ranges();
 *   - hands writes to the control characteristic to fm_core_write() and connection events to
 *     fm_core_connected() / fm_core_disconnected() / fm_core_set_mtu();
 *   - drains notifications with fm_core_take() (data, control replies, battery level) and
 *     serves reads with fm_core_read().
 *
 * The packet layout itself is flossmeter_strap.h's (fm_pack_data, fm_parse_command,
 * fm_pack_time_sync): this core adds the behaviour around it. flossmeter's tests compile it
 * with gcc -std=c99 -Wall -Wextra -pedantic -Werror, check it against the golden vectors and run
 * it inside the emulated strap that the end-to-end BLE tests connect to.
 */
#ifndef FLOSSMETER_STRAP_CORE_H
#define FLOSSMETER_STRAP_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "flossmeter_strap.h"

#ifdef __cplusplus
extern "C" { /* the board glue may be C++ (an Arduino sketch) */
#endif

#define FM_CORE_VERSION "1.0.0"

/* Samples the ring buffer holds (128 ≈ 0.32 s at 400 Hz: several connection intervals of 50 ms). */
#ifndef FM_CORE_RING_SAMPLES
#define FM_CORE_RING_SAMPLES 128u
#endif
/* Control replies waiting to be notified (time-sync pings come 100 a second at most). */
#ifndef FM_CORE_REPLIES
#define FM_CORE_REPLIES 16u
#endif
#define FM_CORE_REPLY_MAX 10u   /* the longest reply: [0x86, 0, token u32, t_us u32] */
#define FM_CORE_INFO_MAX 24u    /* device information strings, with the terminating 0 */
#define FM_CORE_STATE_SIZE 6u   /* [streaming u8, rate_hz u16, acc code u8, gyro code u8, status u8] */
#define FM_CORE_NOTIFY_INTERVAL_US 20000u /* the profile: a notification about every 20 ms */
/* The declared sample period follows the period measured on the device clock once the stream
 * spans this long, if it differs from the nominal one by more than FM_CORE_PERIOD_SNAP_PPM
 * (an IMU clocked by its own oscillator); below that the nominal period is exact enough: within
 * a 20 ms packet 200 ppm is 4 µs. */
#define FM_CORE_PERIOD_SPAN_US 10000000u
#define FM_CORE_PERIOD_SNAP_PPM 200u
/* Disconnected this long, the strap stops sampling (the counter then resumes from the clock). */
#define FM_CORE_IDLE_STOP_US 600000000u
/* The battery level is notified when it moved this many points from the last one reported. */
#define FM_CORE_BATTERY_STEP 2u

typedef enum {
    FM_CH_DATA = 0,          /* notify: data packets */
    FM_CH_CONTROL = 1,       /* notify: command replies; read: the state */
    FM_CH_BATTERY = 2,       /* notify and read: battery level, % */
    FM_CH_FIRMWARE_REVISION, /* read: Device Information 0x2A26 */
    FM_CH_MODEL_NUMBER,      /* read: Device Information 0x2A24 */
    FM_CH_MANUFACTURER       /* read: Device Information 0x2A29 */
} fm_channel_t;

typedef enum {
    FM_STAT_SAMPLES_IN = 0,     /* samples pushed while sampling */
    FM_STAT_SAMPLES_SKIPPED,    /* counter periods with no sample (IMU stopped or a sample lost) */
    FM_STAT_SAMPLES_SENT,       /* samples packed into data packets */
    FM_STAT_SAMPLES_OVERWRITTEN,/* samples lost because the ring buffer was full */
    FM_STAT_PACKETS,            /* data packets packed */
    FM_STAT_COMMANDS,           /* control writes handled */
    FM_STAT_REPLIES_DROPPED,    /* replies lost because the reply queue was full */
    FM_STAT_COUNT
} fm_stat_t;

/* Which sample rates the IMU can produce exactly (1) — NULL: every rate of the profile. */
typedef int (*fm_rate_ok_fn)(void *ctx, uint16_t rate_hz);

typedef struct {
    fm_sample_t sample;
    uint32_t seq;  /* sample counter */
    uint32_t t_us; /* device clock when it was taken */
    uint8_t clipped;
} fm_core_slot_t;

/* The whole state: allocate it statically (or on the stack) and fm_core_init() it. The fields
 * are private to strap_core.c; use the functions below. */
typedef struct {
    /* configuration */
    uint16_t rate_hz, rate_max_hz;
    uint8_t acc_code, gyro_code;
    uint32_t notify_interval_us;
    fm_rate_ok_fn rate_ok;
    void *rate_ctx;
    char info[3][FM_CORE_INFO_MAX];
    /* link */
    uint8_t connected, streaming, sampling, flush, time_synced;
    uint16_t mtu;
    /* device clock, extended to 64 bits */
    uint8_t clock_known;
    uint32_t now32;
    uint64_t now64, disconnected_at;
    /* sample counter and period */
    uint8_t counting, anchored;
    uint32_t next_seq, anchor_seq, nominal_ns, period_ns;
    uint64_t last_t, anchor_t;
    /* ring buffer of samples */
    fm_core_slot_t ring[FM_CORE_RING_SAMPLES];
    uint16_t head, count;
    /* control replies */
    uint8_t reply[FM_CORE_REPLIES][FM_CORE_REPLY_MAX];
    uint8_t reply_len[FM_CORE_REPLIES];
    uint8_t reply_head, reply_count;
    /* battery, identify */
    uint8_t battery, battery_known, battery_pending;
    uint64_t identify_until;
    uint32_t stats[FM_STAT_COUNT];
} fm_core_t;

/* Reset to power-on state: 100 Hz, ±16 g, ±2000 °/s, not connected, not sampling. */
void fm_core_init(fm_core_t *c);
/* sizeof(fm_core_t), for callers that cannot see the struct (the tests' ctypes wrapper). */
size_t fm_core_size(void);

/* Device information strings (copied, cut to FM_CORE_INFO_MAX - 1 bytes). */
void fm_core_set_info(fm_core_t *c, fm_channel_t which, const char *text);
/* Restrict set_rate to the rates the IMU produces exactly (others answer "bad parameter"). */
void fm_core_set_rate_check(fm_core_t *c, fm_rate_ok_fn ok, void *ctx);
/* Bench use only: rates up to rate_max_hz and a notification every notify_interval_us
 * (the profile: FM_RATE_MAX_HZ and FM_CORE_NOTIFY_INTERVAL_US). */
void fm_core_set_limits(fm_core_t *c, uint16_t rate_max_hz, uint32_t notify_interval_us);

/* A central connected with this ATT MTU (23 until the exchange; then fm_core_set_mtu). */
void fm_core_connected(fm_core_t *c, uint16_t att_mtu, uint32_t now_us);
void fm_core_set_mtu(fm_core_t *c, uint16_t att_mtu);
/* The link dropped: streaming ends, queued packets and replies are discarded; sampling and
 * the counter go on (the profile: the counter keeps counting while the link is down). */
void fm_core_disconnected(fm_core_t *c, uint32_t now_us);

/* A write to the control characteristic that arrived at device time now_us (take the time as
 * close to the radio event as the stack allows: time-sync replies carry it). */
void fm_core_write(fm_core_t *c, const uint8_t *data, size_t len, uint32_t now_us);

/* One IMU sample taken at device time t_us; clipped: a value hit the sensor's full scale.
 * Ignored unless fm_core_sampling(). */
void fm_core_push(fm_core_t *c, const fm_sample_t *s, uint32_t t_us, int clipped);

/* The next notification due on ch (FM_CH_DATA, FM_CH_CONTROL or FM_CH_BATTERY) copied to out;
 * its length, or 0 if none is due (or it does not fit in cap). */
size_t fm_core_take(fm_core_t *c, fm_channel_t ch, uint8_t *out, size_t cap);
/* The value a read of ch returns, copied to out; its length (0: none, or cap too small). */
size_t fm_core_read(const fm_core_t *c, fm_channel_t ch, uint8_t *out, size_t cap);

/* Battery voltage (mV, at rest) → level; notified when it moves FM_CORE_BATTERY_STEP points. */
void fm_core_set_battery_mv(fm_core_t *c, uint16_t mv);
/* Level in % of a single LiPo cell at this open-circuit voltage (mV), approximate. */
uint8_t fm_core_battery_percent(uint16_t mv);

/* Housekeeping: call at least once a second (idle stop of sampling while disconnected). */
void fm_core_tick(fm_core_t *c, uint32_t now_us);
/* Whether the identify LED is lit now (2 Hz blinking while identify runs). */
int fm_core_led(fm_core_t *c, uint32_t now_us);

/* What the glue must run the IMU at. */
int fm_core_sampling(const fm_core_t *c);
int fm_core_streaming(const fm_core_t *c);
uint16_t fm_core_rate_hz(const fm_core_t *c);
void fm_core_ranges(const fm_core_t *c, uint8_t *acc_code, uint8_t *gyro_code);
/* The sample period declared in packets (ns) and the samples per notification (0: MTU < 31). */
uint32_t fm_core_period_ns(const fm_core_t *c);
uint8_t fm_core_samples_per_packet(const fm_core_t *c);
uint32_t fm_core_stat(const fm_core_t *c, fm_stat_t which);

#ifdef __cplusplus
}
#endif

#endif /* FLOSSMETER_STRAP_CORE_H */
