#!/usr/bin/env bash
# Usage: source bluezoo-env.sh start|stop
# Starts a private dbus-daemon + BlueZoo with hci0/hci1 and exports DBUS_SYSTEM_BUS_ADDRESS.
BZ_DIR=${BZ_DIR:-/tmp/bluezoo-ci}
case "${1:-start}" in
start)
  mkdir -p "$BZ_DIR"; rm -f "$BZ_DIR/bus"
  dbus-daemon --config-file="$(dirname "${BASH_SOURCE[0]}")/bus.conf" \
      --address="unix:path=$BZ_DIR/bus" --nofork --nopidfile >"$BZ_DIR/dbus.log" 2>&1 &
  echo $! >"$BZ_DIR/dbus.pid"
  for _ in $(seq 50); do [ -S "$BZ_DIR/bus" ] && break; sleep 0.1; done
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$BZ_DIR/bus"
  python3 "$(dirname "${BASH_SOURCE[0]}")/bluezoo-patched.py" -v --auto-enable --scan-interval 1 \
      --adapter 00:00:00:11:11:11 --adapter 00:00:00:22:22:22 >"$BZ_DIR/bluezoo.log" 2>&1 &
  echo $! >"$BZ_DIR/bluezoo.pid"
  for _ in $(seq 100); do
    busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" get-property org.bluez /org/bluez/hci1 \
        org.bluez.Adapter1 Powered 2>/dev/null | grep -q true && break
    sleep 0.1
  done
  ;;
stop)
  for p in bluezoo dbus; do [ -f "$BZ_DIR/$p.pid" ] && kill "$(cat "$BZ_DIR/$p.pid")" 2>/dev/null || true; rm -f "$BZ_DIR/$p.pid"; done
  ;;
esac
