#!/usr/bin/env bash
# Builds the Java binding and its test with plain javac and runs the test against
# target/release/libtgvoip.so, which must be built with `cargo build --release --features jni`.
# Env: TGVOIP_SHARED_DIR (default ../shared), TGVOIP_PYTHON (default: scripts/pyenv.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$(cd "${TGVOIP_SHARED_DIR:-$root/../shared}" && pwd)
python=${TGVOIP_PYTHON:-$("$root/scripts/pyenv.sh")}
out="$root/target/java"
rm -rf "$out" && mkdir -p "$out/classes" "$out/test-classes"
javac -Xlint:all -Werror -d "$out/classes" $(find "$here/src" -name '*.java')
jar --create --file "$out/tgvoip.jar" -C "$out/classes" .
javac -Xlint:all -Werror -cp "$out/classes" -d "$out/test-classes" $(find "$here/test" -name '*.java')
java -Xcheck:jni -cp "$out/classes:$out/test-classes" \
    -Djava.library.path="$root/target/release" \
    -Dtgvoip.root="$root" -Dtgvoip.shared="$shared" -Dtgvoip.python="$python" \
    org.tgvoip.CallTest
# Protocol choice and tgcalls signaling; the 9.0.0 call runs in a network namespace with a dummy
# interface (skipped, exit 77, where namespaces cannot be created).
jvm=(java -Xcheck:jni -cp "$out/classes:$out/test-classes" -Djava.library.path="$root/target/release")
"${jvm[@]}" org.tgvoip.TgcallsTest
st=0
"$root/ctests/in_netns.sh" dummy "${jvm[@]}" org.tgvoip.TgcallsTest pair || st=$?
if [[ $st -eq 77 ]]; then
    echo "java: tgcalls pair call skipped (no network namespaces)"
elif [[ $st -ne 0 ]]; then
    exit $st
fi
