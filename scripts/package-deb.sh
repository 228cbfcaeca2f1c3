#!/usr/bin/env bash
# `make package`: builds dist/tether_<version>_<arch>.deb with Debian's own tools (dpkg-deb,
# dpkg-shlibdeps). The binary is a release build linked with --static-swift-stdlib, so the package
# needs no Swift toolchain: only the C libraries dpkg-shlibdeps finds (libc, libstdc++, libsqlite3,
# libsystemd, ...). The version is the VERSION file; the commit is baked in by Package.swift.
#
# Layout: /usr/bin/tether; /usr/lib/systemd/system/tether.{service,socket};
# /usr/lib/systemd/catalog/tether.catalog; /usr/share/tether/dashboard/; /usr/share/doc/tether/;
# /usr/share/man/man1/tether.1.gz (generated from the CLI by swift-argument-parser's
# generate-manual); conffiles /etc/tether/tether.json and /etc/default/tether.
#
# Env: SWIFT (default swift), PACKAGE_SCRATCH (release build folder, default .build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
scratch=${PACKAGE_SCRATCH:-.build-release}
version=$(tr -d ' \n' < VERSION)
# Named explicitly: SwiftPM may reuse a manifest evaluated at an older HEAD (see Makefile).
export TETHER_COMMIT=${TETHER_COMMIT:-$(scripts/build-commit.sh)}
arch=$(dpkg --print-architecture)
stage=.build-package/root
deb=dist/tether_${version}_${arch}.deb

echo "package: release build with a static Swift standard library (the long step: 12-20 min from clean)" >&2
$SWIFT build -c release --static-swift-stdlib --scratch-path "$scratch" --product tether
binary="$scratch/release/tether"
# It must not need the toolchain it was built with.
if ldd "$binary" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|/opt/swift' >&2; then
  echo "package: $binary still links Swift libraries dynamically (above)" >&2; exit 1
fi

echo "package: man page from the CLI (generate-manual)" >&2
parser="$scratch/checkouts/swift-argument-parser"
$SWIFT build --package-path "$parser" --scratch-path .build-package/manual-tool --product generate-manual >&2
rm -rf .build-package/man && mkdir -p .build-package/man
date=$(git log -1 --format=%cs 2>/dev/null || date -u +%F)
.build-package/manual-tool/debug/generate-manual "$binary" --date "$date" --output-directory .build-package/man >&2

rm -rf "$stage" && mkdir -p "$stage/DEBIAN"
install -D -m 0755 "$binary" "$stage/usr/bin/tether"
strip --strip-debug "$stage/usr/bin/tether"
install -D -m 0644 deploy/systemd/tether.service "$stage/usr/lib/systemd/system/tether.service"
install -D -m 0644 deploy/systemd/tether.socket "$stage/usr/lib/systemd/system/tether.socket"
install -D -m 0644 deploy/systemd/tether.catalog "$stage/usr/lib/systemd/catalog/tether.catalog"
mkdir -p "$stage/usr/share/tether/dashboard"
cp -R Dashboard/index.html Dashboard/js Dashboard/css "$stage/usr/share/tether/dashboard/"
install -D -m 0644 deploy/debian/tether.json "$stage/etc/tether/tether.json"
install -D -m 0644 deploy/debian/default "$stage/etc/default/tether"
doc="$stage/usr/share/doc/tether"
install -D -m 0644 README.md "$doc/README.md"
install -m 0644 docs/*.md "$doc/"
install -m 0644 deploy/debian/copyright "$doc/copyright"
printf 'tether (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- Tether <tether@localhost>  %s\n' \
  "$version" "$("$binary" version --json | sed -n 's/.*"commit":"\([^"]*\)".*/\1/p')" "$(date -u -R)" \
  | gzip -9n > "$doc/changelog.Debian.gz"
mkdir -p "$stage/usr/share/man/man1"
for page in .build-package/man/*.1; do gzip -9n < "$page" > "$stage/usr/share/man/man1/$(basename "$page").gz"; done
find "$stage" -type d -exec chmod 0755 {} +
find "$stage/usr/share" "$stage/etc" "$stage/usr/lib" -type f -exec chmod 0644 {} +

# Depends from the binary's ELF dependencies, the Debian way.
shlibs=$(mkdir -p .build-package/shlibs/debian && cd .build-package/shlibs \
  && printf 'Source: tether\n\nPackage: tether\nArchitecture: any\n' > debian/control \
  && dpkg-shlibdeps -O "../../$stage/usr/bin/tether" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$stage/DEBIAN/"
printf '/etc/tether/tether.json\n/etc/default/tether\n' > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: tether
Version: $version
Architecture: $arch
Maintainer: Tether <tether@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $shlibs
Section: net
Priority: optional
Description: event relay with sequence numbers, acknowledgements and replay
 Tether relays events from producers to subscribers (WebSocket, Server-Sent Events,
 Socket.IO) with global sequence numbers, acknowledgements, persistent client ids with
 resume and replay, and declared gaps. It runs as a hardened Type=notify systemd service
 with a health-gated watchdog, socket activation and journald connection timelines, and
 exports Prometheus metrics. Built with a static Swift standard library: no Swift needed.
CONTROL
mkdir -p dist
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
