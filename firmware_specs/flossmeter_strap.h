/* flossmeter strap profile v1: pack data packets and parse control commands (C99, no deps).
 *
 * The contract is firmware_specs/flossmeter_strap.json (machine-readable) and
 * firmware_specs/flossmeter_strap.md (prose). All multi-byte fields are little-endian and are
 * written byte by byte, so this header works on any CPU and compiler without packing pragmas.
 * flossmeter's tests compile it with gcc -std=c99 -Wall -Wextra -pedantic and check its output
 * against the Python decoder and the golden vectors.
 */
#ifndef FLOSSMETER_STRAP_H
#define FLOSSMETER_STRAP_H

#include <stddef.h>
#include <stdint.h>

#define FM_SERVICE_UUID "6e2a0001-6c0f-4f1e-9b3a-7f2d5c8e4a10"
#define FM_DATA_UUID "6e2a0002-6c0f-4f1e-9b3a-7f2d5c8e4a10"
#define FM_CONTROL_UUID "6e2a0003-6c0f-4f1e-9b3a-7f2d5c8e4a10"
#define FM_NAME_PREFIX "FLOSS-"

#define FM_FORMAT_VERSION 1u
#define FM_HEADER_SIZE 16u
#define FM_SAMPLE_SIZE 12u
#define FM_MAX_SAMPLES 19u /* 16 + 19 * 12 = 244 bytes = ATT MTU 247 - 3 */
#define FM_RATE_MIN_HZ 25u
#define FM_RATE_MAX_HZ 400u

/* range codes: acc 0..3 = 2, 4, 8, 16 g; gyro 0..4 = 125, 250, 500, 1000, 2000 deg/s */
#define FM_ACC_CODE_MAX 3u
#define FM_GYRO_CODE_MAX 4u
#define FM_STATUS_CLIPPED 0x01u
#define FM_STATUS_TIME_SYNCED 0x02u

/* control opcodes; responses are notified as [opcode | FM_RESPONSE, result, payload...] */
#define FM_OP_START 1u
#define FM_OP_STOP 2u
#define FM_OP_SET_RATE 3u   /* u16 rate_hz */
#define FM_OP_SET_RANGES 4u /* u8 acc_code, u8 gyro_code */
#define FM_OP_IDENTIFY 5u   /* u8 seconds */
#define FM_OP_TIME_SYNC 6u  /* u32 token; response payload: u32 token, u32 t_us on receipt */
#define FM_RESPONSE 0x80u
#define FM_OK 0u
#define FM_BAD_PARAMETER 1u
#define FM_BUSY 2u
#define FM_UNKNOWN_OPCODE 3u

typedef struct {
    int16_t acc[3]; /* counts of the accelerometer full scale: value = count / 32768 * range */
    int16_t gyr[3]; /* counts of the gyroscope full scale */
} fm_sample_t;

typedef struct {
    uint8_t opcode;
    uint16_t rate_hz;  /* FM_OP_SET_RATE */
    uint8_t acc_code;  /* FM_OP_SET_RANGES */
    uint8_t gyro_code; /* FM_OP_SET_RANGES */
    uint8_t seconds;   /* FM_OP_IDENTIFY */
    uint32_t token;    /* FM_OP_TIME_SYNC */
} fm_command_t;

static inline void fm_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void fm_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t fm_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static inline uint32_t fm_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Samples per notification: about every 20 ms, as many as the MTU allows (0: MTU too small). */
static inline uint8_t fm_samples_per_packet(uint16_t rate_hz, uint16_t att_mtu) {
    uint32_t fit, want;
    if (att_mtu < 3u + FM_HEADER_SIZE + FM_SAMPLE_SIZE) return 0;
    fit = (att_mtu - 3u - FM_HEADER_SIZE) / FM_SAMPLE_SIZE;
    if (fit > FM_MAX_SAMPLES) fit = FM_MAX_SAMPLES;
    want = ((uint32_t)rate_hz * 2u + 50u) / 100u; /* round(rate * 0.02) */
    if (want < 1u) want = 1u;
    return (uint8_t)(want < fit ? want : fit);
}

/* Pack one data packet into out (capacity cap). Returns its length, or 0 if it does not fit
 * or a parameter is invalid. seq: counter of the first sample; t_us: device clock at the first
 * sample; period_ns: sample period on the device clock. */
static inline size_t fm_pack_data(uint8_t *out, size_t cap, uint32_t seq, uint32_t t_us,
                                  uint32_t period_ns, uint8_t acc_code, uint8_t gyro_code,
                                  uint8_t status, const fm_sample_t *samples, uint8_t n) {
    size_t len = FM_HEADER_SIZE + (size_t)n * FM_SAMPLE_SIZE, i;
    unsigned k;
    uint8_t *p;
    if (n == 0u || len > cap || acc_code > FM_ACC_CODE_MAX || gyro_code > FM_GYRO_CODE_MAX) return 0;
    out[0] = (uint8_t)FM_FORMAT_VERSION;
    out[1] = n;
    out[2] = (uint8_t)((acc_code << 4) | gyro_code);
    out[3] = status;
    fm_put_u32(out + 4, seq);
    fm_put_u32(out + 8, t_us);
    fm_put_u32(out + 12, period_ns);
    p = out + FM_HEADER_SIZE;
    for (i = 0; i < n; i++) {
        for (k = 0; k < 3u; k++) fm_put_u16(p + 2u * k, (uint16_t)samples[i].acc[k]);
        for (k = 0; k < 3u; k++) fm_put_u16(p + 6u + 2u * k, (uint16_t)samples[i].gyr[k]);
        p += FM_SAMPLE_SIZE;
    }
    return len;
}

/* Parse a write to the control characteristic. Returns FM_OK or FM_BAD_PARAMETER /
 * FM_UNKNOWN_OPCODE (send that as the response's result). */
static inline uint8_t fm_parse_command(const uint8_t *in, size_t len, fm_command_t *cmd) {
    if (len < 1u) return FM_BAD_PARAMETER;
    cmd->opcode = in[0];
    switch (in[0]) {
    case FM_OP_START:
    case FM_OP_STOP:
        return FM_OK;
    case FM_OP_SET_RATE:
        if (len < 3u) return FM_BAD_PARAMETER;
        cmd->rate_hz = fm_get_u16(in + 1);
        return (cmd->rate_hz >= FM_RATE_MIN_HZ && cmd->rate_hz <= FM_RATE_MAX_HZ) ? FM_OK
                                                                                 : FM_BAD_PARAMETER;
    case FM_OP_SET_RANGES:
        if (len < 3u) return FM_BAD_PARAMETER;
        cmd->acc_code = in[1];
        cmd->gyro_code = in[2];
        return (in[1] <= FM_ACC_CODE_MAX && in[2] <= FM_GYRO_CODE_MAX) ? FM_OK : FM_BAD_PARAMETER;
    case FM_OP_IDENTIFY:
        if (len < 2u) return FM_BAD_PARAMETER;
        cmd->seconds = in[1];
        return FM_OK;
    case FM_OP_TIME_SYNC:
        if (len < 5u) return FM_BAD_PARAMETER;
        cmd->token = fm_get_u32(in + 1);
        return FM_OK;
    default:
        return FM_UNKNOWN_OPCODE;
    }
}

/* The time-sync answer: [0x86, FM_OK, token u32, t_us u32]. Returns 10. */
static inline size_t fm_pack_time_sync(uint8_t *out, uint32_t token, uint32_t t_us) {
    out[0] = (uint8_t)(FM_OP_TIME_SYNC | FM_RESPONSE);
    out[1] = (uint8_t)FM_OK;
    fm_put_u32(out + 2, token);
    fm_put_u32(out + 6, t_us);
    return 10u;
}

#endif /* FLOSSMETER_STRAP_H */
