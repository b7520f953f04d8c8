#!/bin/sh
# Send a two-page fax with HylaFAX's faxsend (Class 2.0) through a hw-sim modem.
#
# Needs root, the Debian packages hylafax-server and efax, and a built redial-sim.
#   usage: hw-sim/scripts/hylafax-faxsend.sh [path/to/redial-sim]
# What it takes (found by trying, HylaFAX 6.0.7):
#   * faxsend names devices by "device ID": the tty path without /dev/ and with / -> _, so
#     the rack lives under /dev (here /dev/hwsim, device ID hwsim_ttySIM0).
#   * No modem config file is needed: Debian's wrapper bind-mounts /etc/hylafax over the
#     spool's etc/, and faxsend probes the modem (+FCLASS=? -> 2.0, +FCC=?, +FIS? ...).
#   * A q-file written by hand (normally faxq writes it) needs a `client:` line, one `fax:`
#     line per TIFF/F document and `pagehandling`.
#   * faxsend logs only to syslog; without a syslog daemon run something on /dev/log.
#   * faxsend's exit status is the job result: 2 = send_done (q-file `returned:2`).
set -eu
SIM=${1:-target/debug/redial-sim}
SPOOL=/var/spool/hylafax
RACK=/dev/hwsim
WORK=$(mktemp -d)

"$SIM" --modems 1 --dir "$RACK" --time-scale 0.05 \
    --scenario /dev/stdin 2>"$WORK/sim.log" <<'TOML' &
[[number]]
number = "5550100"
outcome = { kind = "fax", csi = "HYLAFAX TEST" }
TOML
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null; rm -rf "$WORK"' EXIT
i=0; while [ ! -e "$RACK/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done

printf 'HylaFAX faxsend through hw-sim, page one.\n' > "$WORK/a.txt"
printf 'HylaFAX faxsend through hw-sim, page two.\n' > "$WORK/b.txt"
efix -i text -o tiffg3 "$WORK/a.txt" > "$SPOOL/docq/hwsim1.tif" 2>/dev/null
efix -i text -o tiffg3 "$WORK/b.txt" > "$SPOOL/docq/hwsim2.tif" 2>/dev/null
JOB=$$
cat > "$SPOOL/sendq/q$JOB" <<EOF
jobid:$JOB
groupid:$JOB
state:6
jobtype:facsimile
number:5550100
external:5550100
tts:0
killtime:$(( $(date +%s) + 3600 ))
sender:root
mailaddr:root@localhost
owner:root
client:localhost
notify:none
maxdials:3
maxtries:3
totpages:2
modem:hwsim_ttySIM0
priority:127
resolution:196
pagewidth:215
pagelength:297
desiredbr:5
desiredec:0
desireddf:0
desiredst:0
pagehandling:00M00P
fax:0::docq/hwsim1.tif
fax:0::docq/hwsim2.tif
EOF
cd "$SPOOL"
set +e
/usr/sbin/faxsend -l -p -m hwsim_ttySIM0 "sendq/q$JOB" 2>/dev/null
rc=$?
set -e
grep -E '^(npages|statuscode|returned):' "sendq/q$JOB"
tail -1 "$RACK/calls.jsonl"
rm -f "sendq/q$JOB" docq/hwsim1.tif docq/hwsim2.tif
if [ $rc -eq 2 ]; then echo "faxsend: send_done"; else echo "faxsend exit $rc"; exit 1; fi
