#!/usr/bin/env bash
# Resolve Apache Kafka (KRaft broker + tools, version in .ci/kafka/pom.xml) from Maven Central
# into a cache folder, for the test suite's Apache Kafka fixtures (tests/apache_kafka.py).
# Idempotent: does nothing when the cache is complete. Needs Java 17+ and Maven.
# Prints the libs folder on its last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$root/.ci/kafka/pom.xml")"
home="${KAFKAML_APACHE_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/kafkaml/apache-kafka-$version}"
libs="$home/libs"
if [ ! -f "$home/.complete" ]; then
  command -v java >/dev/null || { echo "install-kafka: Java 17+ is needed" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "install-kafka: Maven is needed" >&2; exit 1; }
  rm -rf "$libs"
  mkdir -p "$libs"
  (cd "$root/.ci/kafka" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs") >&2
  ls "$libs"/kafka_2.13-"$version".jar >/dev/null
  touch "$home/.complete"
  echo "install-kafka: Apache Kafka $version resolved into $libs" >&2
fi
echo "$libs"
