// flossmeter strap: board glue for the Arduino Nano 33 BLE Sense Rev2 (nRF52840 + BMI270).
//
// NOT BUILT HERE. It is written against the ArduinoBLE and Arduino_BMI270_BMM150 APIs as read from
// their sources (ArduinoBLE 1.3, Arduino_BMI270_BMM150 1.2) and the Bosch BMI270 SensorAPI they
// bundle; firmware_specs/README.md ("Board glue") lists what is unconfirmed without hardware.
// Everything the profile defines happens in the portable core (strap_core.c), which flossmeter's
// tests compile, check against the golden vectors and run inside the emulated strap; this file
// only moves bytes and samples between the core, the radio and the IMU.
//
// Before building, copy the core next to this sketch (the Arduino builder compiles src/):
//   mkdir -p src && cp ../../strap_core.c ../../strap_core.h ../../../flossmeter_strap.h src/

#include <ArduinoBLE.h>
#include <Arduino_BMI270_BMM150.h>
#include <utility/ATT.h>  // ATT.mtu(): ArduinoBLE keeps the negotiated MTU out of its public API

#include "src/strap_core.h"

static const char *FIRMWARE_REVISION = FM_CORE_VERSION "-nano33ble";
static const char *MODEL_NUMBER = "FM-STRAP-1 Nano33BLE-S-R2";
static const uint32_t BATTERY_EVERY_US = 10000000u; // read the cell every 10 s
static const int BATTERY_PIN = A0;                  // cell → 100 kΩ → A0 → 100 kΩ → GND
static const uint32_t BATTERY_DIVIDER = 2u;

static fm_core_t core;

// -- IMU: the library's class, configured by us (as its Interrupts_subclassing example does) ------

// The BMI270's ODRs are 25 Hz × 2^k: the profile's 25, 50, 100, 200 and 400 Hz exactly; other
// rates would need resampling, so the core answers "bad parameter" for them.
static int rateOk(void *, uint16_t rate_hz) {
  return rate_hz == 25 || rate_hz == 50 || rate_hz == 100 || rate_hz == 200 || rate_hz == 400;
}

static uint8_t odrCode(uint16_t rate_hz) {
  switch (rate_hz) {
    case 25: return BMI2_ACC_ODR_25HZ;
    case 50: return BMI2_ACC_ODR_50HZ;
    case 200: return BMI2_ACC_ODR_200HZ;
    case 400: return BMI2_ACC_ODR_400HZ;
    default: return BMI2_ACC_ODR_100HZ;
  }
}

class StrapIMU : public BoschSensorClass {
 public:
  explicit StrapIMU(TwoWire &wire) : BoschSensorClass(wire) {}
  struct bmi2_dev *dev = nullptr;  // the library's device, handed to configure_sensor

  // ODR and full-scale ranges (profile codes); the filters in normal mode with the
  // performance option: the datasheet's alias-free setting at this ODR.
  int8_t apply(uint16_t rate_hz, uint8_t acc_code, uint8_t gyro_code) {
    static const uint8_t ACC_RANGE[] = {BMI2_ACC_RANGE_2G, BMI2_ACC_RANGE_4G, BMI2_ACC_RANGE_8G,
                                        BMI2_ACC_RANGE_16G};
    static const uint8_t GYR_RANGE[] = {BMI2_GYR_RANGE_125, BMI2_GYR_RANGE_250,
                                        BMI2_GYR_RANGE_500, BMI2_GYR_RANGE_1000,
                                        BMI2_GYR_RANGE_2000};
    struct bmi2_sens_config cfg[2];
    cfg[0].type = BMI2_ACCEL;
    cfg[0].cfg.acc.odr = odrCode(rate_hz);
    cfg[0].cfg.acc.range = ACC_RANGE[acc_code];
    cfg[0].cfg.acc.bwp = BMI2_ACC_NORMAL_AVG4;
    cfg[0].cfg.acc.filter_perf = BMI2_PERF_OPT_MODE;
    cfg[1].type = BMI2_GYRO;
    cfg[1].cfg.gyr.odr = odrCode(rate_hz);  // the gyro ODR codes equal the accel ones 25–400 Hz
    cfg[1].cfg.gyr.range = GYR_RANGE[gyro_code];
    cfg[1].cfg.gyr.bwp = BMI2_GYR_NORMAL_MODE;
    cfg[1].cfg.gyr.filter_perf = BMI2_PERF_OPT_MODE;
    cfg[1].cfg.gyr.noise_perf = BMI2_PERF_OPT_MODE;
    cfg[1].cfg.gyr.ois_range = BMI2_GYR_OIS_2000;
    return bmi2_set_sensor_config(cfg, 2, dev);
  }

 protected:
  int8_t configure_sensor(struct bmi2_dev *d) override {
    uint8_t sensors[2] = {BMI2_ACCEL, BMI2_GYRO};
    struct bmi2_int_pin_config pin;
    int8_t r;
    dev = d;
    pin.pin_type = BMI2_INT1;  // data ready on INT1, as the library maps it
    pin.int_latch = BMI2_INT_NON_LATCH;
    pin.pin_cfg[0].lvl = BMI2_INT_ACTIVE_HIGH;
    pin.pin_cfg[0].od = BMI2_INT_PUSH_PULL;
    pin.pin_cfg[0].output_en = BMI2_INT_OUTPUT_ENABLE;
    pin.pin_cfg[0].input_en = BMI2_INT_INPUT_DISABLE;
    if ((r = bmi2_set_int_pin_config(&pin, d)) != BMI2_OK) return r;
    if ((r = bmi2_map_data_int(BMI2_DRDY_INT, BMI2_INT1, d)) != BMI2_OK) return r;
    if ((r = apply(100, FM_ACC_CODE_MAX, FM_GYRO_CODE_MAX)) != BMI2_OK) return r;
    return bmi2_sensor_enable(sensors, 2, d);
  }
};

static StrapIMU imu(Wire1);  // the board's internal I2C bus
static volatile uint32_t readyAt;   // device time of the last data-ready edge, µs
static volatile uint32_t readyCount;

static void onDataReady() {
  readyAt = micros();  // the sample's time: stamped at the edge, not when the loop reads it
  readyCount++;
}

static uint16_t imuRate;
static uint8_t imuAcc = 0xFF, imuGyro = 0xFF;
static int imuRunning;

// Follow the core: run the IMU at its rate and ranges while it says so.
static void steerImu() {
  uint16_t rate = fm_core_rate_hz(&core);
  uint8_t acc, gyro;
  uint8_t sensors[2] = {BMI2_ACCEL, BMI2_GYRO};
  fm_core_ranges(&core, &acc, &gyro);
  if (!fm_core_sampling(&core)) {
    if (imuRunning) bmi2_sensor_disable(sensors, 2, imu.dev);
    imuRunning = 0;
    return;
  }
  if (rate != imuRate || acc != imuAcc || gyro != imuGyro) {
    imu.apply(rate, acc, gyro);
    imuRate = rate;
    imuAcc = acc;
    imuGyro = gyro;
  }
  if (!imuRunning) bmi2_sensor_enable(sensors, 2, imu.dev);
  imuRunning = 1;
}

static uint32_t lastReadyCount;

// One sample per data-ready edge; an edge the loop missed (BLE work took longer than a period)
// is a sample lost, which the core counts from the time stamps.
static void readImu() {
  struct bmi2_sens_data d;
  fm_sample_t s;
  uint32_t count, at;
  noInterrupts();
  count = readyCount;
  at = readyAt;
  interrupts();
  if (count == lastReadyCount || !imuRunning) return;
  lastReadyCount = count;
  if (bmi2_get_sensor_data(&d, imu.dev) != BMI2_OK) return;
  s.acc[0] = d.acc.x;
  s.acc[1] = d.acc.y;
  s.acc[2] = d.acc.z;
  s.gyr[0] = d.gyr.x;
  s.gyr[1] = d.gyr.y;
  s.gyr[2] = d.gyr.z;
  int clipped = 0;
  for (int k = 0; k < 3; k++) {
    clipped |= s.acc[k] == INT16_MAX || s.acc[k] == INT16_MIN;
    clipped |= s.gyr[k] == INT16_MAX || s.gyr[k] == INT16_MIN;
  }
  fm_core_push(&core, &s, at, clipped);
}

// -- BLE --------------------------------------------------------------------------------------

static BLEService imuService(FM_SERVICE_UUID);
static BLECharacteristic dataChar(FM_DATA_UUID, BLENotify, 16 + FM_MAX_SAMPLES * 12);
// write without response too: time-sync pings are written that way
static BLECharacteristic controlChar(FM_CONTROL_UUID,
                                     BLERead | BLEWrite | BLEWriteWithoutResponse | BLENotify,
                                     FM_CORE_REPLY_MAX);
static BLEService batteryService("180F");
static BLEUnsignedCharCharacteristic batteryChar("2A19", BLERead | BLENotify);
static BLEService infoService("180A");
static BLEStringCharacteristic firmwareChar("2A26", BLERead, FM_CORE_INFO_MAX);
static BLEStringCharacteristic modelChar("2A24", BLERead, FM_CORE_INFO_MAX);
static BLEStringCharacteristic makerChar("2A29", BLERead, FM_CORE_INFO_MAX);

static BLEDevice central;
static uint16_t mtu = 23;

// ArduinoBLE writes a notifying characteristic's value and notifies it in one call, and a read
// returns the last value: so after each reply the control value is set back to the state (a
// notification without the response bit, which the collector ignores).
static void restoreState() {
  uint8_t state[FM_CORE_STATE_SIZE];
  size_t n = fm_core_read(&core, FM_CH_CONTROL, state, sizeof state);
  controlChar.writeValue(state, (int)n);
}

static void onControlWritten(BLEDevice, BLECharacteristic c) {
  fm_core_write(&core, c.value(), (size_t)c.valueLength(), micros());
}

static void onConnected(BLEDevice d) {
  central = d;
  mtu = 23;
  fm_core_connected(&core, mtu, micros());
}

static void onDisconnected(BLEDevice) {
  fm_core_disconnected(&core, micros());
  BLE.advertise();
}

// The MTU of the connection, from ATT's table (by the central's address; its address type is
// not public either, so both are tried).
static uint16_t negotiatedMtu() {
  uint8_t addr[6];
  String text = central.address();  // "aa:bb:cc:dd:ee:ff", most significant byte first
  for (int i = 0; i < 6; i++) {
    addr[5 - i] = (uint8_t)strtoul(text.substring(3 * i, 3 * i + 2).c_str(), NULL, 16);
  }
  for (uint8_t type = 0; type < 2; type++) {
    uint16_t h = ATT.connectionHandle(type, addr);
    if (h != 0xFFFF) return ATT.mtu(h);
  }
  return 23;
}

static void drain() {
  uint8_t out[256];
  size_t n;
  int replied = 0;
  while ((n = fm_core_take(&core, FM_CH_CONTROL, out, sizeof out)) > 0) {
    controlChar.writeValue(out, (int)n);
    replied = 1;
  }
  if (replied) restoreState();
  while ((n = fm_core_take(&core, FM_CH_DATA, out, sizeof out)) > 0) {
    dataChar.writeValue(out, (int)n);  // blocks while the controller's buffers are full
  }
  if (fm_core_take(&core, FM_CH_BATTERY, out, sizeof out) > 0) batteryChar.writeValue(out[0]);
}

static uint32_t batteryAt;

static void readBattery(uint32_t now) {
  if (now - batteryAt < BATTERY_EVERY_US && batteryAt != 0) return;
  batteryAt = now;
  // 12-bit reading of a 3.3 V reference; the cell through a 1:2 divider
  uint32_t raw = (uint32_t)analogRead(BATTERY_PIN);
  fm_core_set_battery_mv(&core, (uint16_t)(raw * 3300u * BATTERY_DIVIDER / 4095u));
  uint8_t level[1];
  if (fm_core_read(&core, FM_CH_BATTERY, level, 1) == 1) batteryChar.writeValue(level[0]);
}

void setup() {
  char name[12];
  pinMode(LED_BUILTIN, OUTPUT);
  digitalWrite(LED_PWR, LOW);  // the power LED alone draws more than the IMU
  analogReadResolution(12);
  fm_core_init(&core);
  fm_core_set_info(&core, FM_CH_FIRMWARE_REVISION, FIRMWARE_REVISION);
  fm_core_set_info(&core, FM_CH_MODEL_NUMBER, MODEL_NUMBER);
  fm_core_set_info(&core, FM_CH_MANUFACTURER, "flossmeter reference");
  fm_core_set_rate_check(&core, rateOk, NULL);
  if (!imu.begin() || !BLE.begin()) {
    while (1) {  // no IMU or no radio: blink fast
      digitalWrite(LED_BUILTIN, !digitalRead(LED_BUILTIN));
      delay(100);
    }
  }
  // BMI270 INT1 is p11 (the library's BMI270_INT1); a function-level static, as the library has it
  static mbed::InterruptIn dataReady(p11, PullDown);
  dataReady.rise(&onDataReady);
  steerImu();

  // FLOSS-xxxx from the last two bytes of the radio address
  String addr = BLE.address();
  snprintf(name, sizeof name, "%s%c%c%c%c", FM_NAME_PREFIX, addr[12], addr[13], addr[15], addr[16]);
  BLE.setLocalName(name);
  BLE.setDeviceName(name);
  BLE.setAdvertisedService(imuService);
  imuService.addCharacteristic(dataChar);
  imuService.addCharacteristic(controlChar);
  batteryService.addCharacteristic(batteryChar);
  infoService.addCharacteristic(firmwareChar);
  infoService.addCharacteristic(modelChar);
  infoService.addCharacteristic(makerChar);
  BLE.addService(imuService);
  BLE.addService(batteryService);
  BLE.addService(infoService);
  firmwareChar.writeValue(FIRMWARE_REVISION);
  modelChar.writeValue(MODEL_NUMBER);
  makerChar.writeValue("flossmeter reference");
  restoreState();
  controlChar.setEventHandler(BLEWritten, onControlWritten);
  BLE.setEventHandler(BLEConnected, onConnected);
  BLE.setEventHandler(BLEDisconnected, onDisconnected);
  // preferred connection interval 15–30 ms (units of 1.25 ms); the central decides
  BLE.setConnectionInterval(12, 24);
  readBattery(micros());
  BLE.advertise();
}

void loop() {
  uint32_t now = micros();
  BLE.poll();
  readImu();
  if (central && central.connected()) {
    uint16_t m = negotiatedMtu();
    if (m != mtu) {
      mtu = m;
      fm_core_set_mtu(&core, mtu);
    }
  }
  steerImu();
  drain();
  fm_core_tick(&core, now);
  readBattery(now);
  digitalWrite(LED_BUILTIN, fm_core_led(&core, now) ? HIGH : LOW);
}
