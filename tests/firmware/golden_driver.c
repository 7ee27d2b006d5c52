/* Drives the reference firmware core (strap_core.c) the way a board would, to reproduce one
 * golden vector: a strap that connected with ATT MTU `mtu`, was told its ranges and rate (and
 * pinged, when the vector's status says "time synced"), started, and took samples until its
 * counter reached `seq` at device time `t_us`. The counter gets there as a strap's does after a
 * pause: samples `period` apart count one each, a step of k periods counts k.
 *
 * usage: golden_driver MTU RATE_HZ ACC_CODE GYRO_CODE STATUS SEQ T_US COUNTS...
 *        (6 counts per sample: acc x y z, gyro x y z)
 * prints: the data packet that starts at SEQ (hex)
 *         the replies to the commands (hex, space-separated)
 *         how many (rate, MTU) pairs the core sizes packets differently from
 *         fm_samples_per_packet (the header's formula of the profile)
 */
#include <stdio.h>
#include <stdlib.h>

#include "strap_core.h"

static void print_hex(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

int main(int argc, char **argv) {
    static fm_core_t core; /* static: as a board allocates it */
    fm_sample_t filler = {{0, 0, 0}, {0, 0, 0}}, s[FM_MAX_SAMPLES];
    uint8_t out[256], cmd[5], target_packet[256];
    size_t len, target_len = 0;
    uint16_t mtu, rate;
    uint8_t acc, gyro, status;
    uint32_t seq, t_us, period_us, t, remaining, step_max, mismatches = 0;
    int n, i, k;
    if (argc < 8 + 6 || (argc - 8) % 6 != 0) {
        fprintf(stderr, "usage: golden_driver MTU RATE ACC GYRO STATUS SEQ T_US COUNTS...\n");
        return 2;
    }
    mtu = (uint16_t)atoi(argv[1]);
    rate = (uint16_t)atoi(argv[2]);
    acc = (uint8_t)atoi(argv[3]);
    gyro = (uint8_t)atoi(argv[4]);
    status = (uint8_t)atoi(argv[5]);
    seq = (uint32_t)strtoul(argv[6], NULL, 10);
    t_us = (uint32_t)strtoul(argv[7], NULL, 10);
    n = (argc - 8) / 6;
    if (1000000u % rate != 0u) {
        fprintf(stderr, "the rate must divide 1 s into whole microseconds\n");
        return 2;
    }
    period_us = 1000000u / rate;
    for (i = 0; i < n; i++)
        for (k = 0; k < 3; k++) {
            s[i].acc[k] = (int16_t)atol(argv[8 + 6 * i + k]);
            s[i].gyr[k] = (int16_t)atol(argv[11 + 6 * i + k]);
        }

    t = t_us - seq * period_us; /* device time of sample 0 (the clock wraps as the counter does) */
    fm_core_init(&core);
    fm_core_connected(&core, mtu, t - 5000u);
    cmd[0] = FM_OP_SET_RANGES;
    cmd[1] = acc;
    cmd[2] = gyro;
    fm_core_write(&core, cmd, 3, t - 4000u);
    cmd[0] = FM_OP_SET_RATE;
    fm_put_u16(cmd + 1, rate);
    fm_core_write(&core, cmd, 3, t - 3000u);
    if (status & FM_STATUS_TIME_SYNCED) {
        cmd[0] = FM_OP_TIME_SYNC;
        fm_put_u32(cmd + 1, 0xC0FFEEu);
        fm_core_write(&core, cmd, 5, t - 2000u);
    }
    cmd[0] = FM_OP_START;
    fm_core_write(&core, cmd, 1, t - 1000u);

    /* fill the counter up to seq: steps of at most 30 min, the clock's unambiguous range */
    step_max = 1800000000u / period_us;
    remaining = seq;
    if (remaining > 0u) {
        fm_core_push(&core, &filler, t, 0);
        while (remaining > step_max) {
            t += step_max * period_us;
            remaining -= step_max;
            fm_core_push(&core, &filler, t, 0);
            while (fm_core_take(&core, FM_CH_DATA, out, sizeof out) > 0u) continue;
        }
    }
    for (i = 0; i < n; i++) {
        fm_core_push(&core, &s[i], t_us + (uint32_t)i * period_us, i == 0 && (status & 1u));
        while ((len = fm_core_take(&core, FM_CH_DATA, out, sizeof out)) > 0u) {
            if (fm_get_u32(out + 4) == seq) {
                for (k = 0; k < (int)len; k++) target_packet[k] = out[k];
                target_len = len;
            }
        }
    }
    print_hex(target_packet, target_len);
    printf("\n");
    k = 0;
    while ((len = fm_core_take(&core, FM_CH_CONTROL, out, sizeof out)) > 0u) {
        if (k++) printf(" ");
        print_hex(out, len);
    }
    printf("\n");

    for (rate = FM_RATE_MIN_HZ; rate <= FM_RATE_MAX_HZ; rate++)
        for (mtu = 23u; mtu <= 300u; mtu++) {
            fm_core_init(&core);
            fm_core_connected(&core, mtu, 0u);
            cmd[0] = FM_OP_SET_RATE;
            fm_put_u16(cmd + 1, rate);
            fm_core_write(&core, cmd, 3, 0u);
            mismatches += fm_core_samples_per_packet(&core) != fm_samples_per_packet(rate, mtu);
        }
    printf("%lu\n", (unsigned long)mismatches);
    return 0;
}
