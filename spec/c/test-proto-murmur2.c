/* murmur2 and keyed partition choice against the values Kafka's own tests
 * expect (UtilsTest.testMurmur2), plus short keys covering every tail
 * length.
 */
#include "flyq/partition.h"
#include "test.h"

static const struct {
  const char *key;
  int32_t hash;
} vectors[] = {
    /* org.apache.kafka.common.utils.UtilsTest#testMurmur2 */
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
    /* Lengths 1..5: each tail case and one full block. */
    {"1", -1993445489},
    {"12", 126087238},
    {"123", -267702483},
    {"1234", -1614185708},
    {"12345", -1188365604},
};

TEST(kafka_vectors) {
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    int32_t h = flyq_murmur2(vectors[i].key, strlen(vectors[i].key));
    if (h != vectors[i].hash)
      flyq_test_fail(__FILE__, __LINE__, "murmur2(\"%s\") = %d, want %d",
                     vectors[i].key, h, vectors[i].hash);
  }
}

/* The hash of the empty key is defined (seed mixed with length 0). */
TEST(empty_key) {
  CHECK_EQ(flyq_murmur2(NULL, 0), flyq_murmur2("", 0));
  CHECK(flyq_murmur2("", 0) != flyq_murmur2("\0", 1));
}

/* (murmur2 & 0x7fffffff) % n, checked against the vectors above. */
TEST(partition_for_key) {
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const char *k = vectors[i].key;
    uint32_t pos = (uint32_t)vectors[i].hash & 0x7fffffffu;
    for (int32_t n = 1; n <= 12; n++)
      CHECK_EQ(flyq_partition_for_key(k, strlen(k), n), pos % (uint32_t)n);
  }
  /* "21" hashes negative: the sign bit is dropped, not abs()'d. */
  CHECK_EQ(flyq_partition_for_key("21", 2, 1000),
           (-973932308 & 0x7fffffff) % 1000);
  CHECK_EQ(flyq_partition_for_key("21", 2, 0), -1);
  CHECK_EQ(flyq_partition_for_key("21", 2, -3), -1);
}

TEST_LIST(TEST_ENTRY(kafka_vectors) TEST_ENTRY(empty_key)
          TEST_ENTRY(partition_for_key));
