#!/bin/sh
# Send faxes with HylaFAX's faxsend in Class 1 through a hw-sim modem: HylaFAX's own T.30
# (Class1Send) against hw-sim's simulated receiver.
#
# Needs root, the Debian packages hylafax-server and efax, util-linux's unshare, and a built
# redial-sim.   usage: hw-sim/scripts/hylafax-class1.sh [path/to/redial-sim]
# Runs in a private mount namespace: the HylaFAX spool is a private copy (a modem config
# `etc/config.hwsimc1_ttySIM0` with `ModemType: Class1` makes faxsend use Class 1, which it would
# not pick by itself from `+FCLASS=?`) and the rack lives on a tmpfs under /dev/hwsimc1 (faxsend
# addresses devices by "device ID"); only that empty directory is left behind (removed at the
# end). faxsend is run without Debian's wrapper (which would mount /etc/hylafax over the
# spool's etc).
# Each job is two documents, so faxsend sends EOM after page 1: the receiver confirms and offers
# DIS again. The second job goes to a receiver offering 2-D on a line that trains at 9600 bit/s
# at most: faxsend gets FTT at 14400 and 12000, steps down, and sends MR.
set -eu
if [ -z "${HWSIM_NS:-}" ]; then
    rc=0
    HWSIM_NS=1 unshare -m --propagation private "$0" "$@" || rc=$?
    rmdir /dev/hwsimc1 2>/dev/null || true
    exit $rc
fi
SIM=$(readlink -f "${1:-target/debug/redial-sim}")
W=$(mktemp -d)
cp -a /var/spool/hylafax "$W/spool"
mount --bind "$W/spool" /var/spool/hylafax
SPOOL=/var/spool/hylafax
RACK=/dev/hwsimc1
mkdir -p "$RACK"
mount -t tmpfs tmpfs "$RACK"
cat > "$SPOOL/etc/config.hwsimc1_ttySIM0" <<CFG
ModemType: Class1
ModemRate: 19200
ModemFlowControl: xonxoff
SessionTracing: 0xFFF
CFG
"$SIM" --modems 1 --dir "$RACK" --time-scale 0.05 --scenario /dev/stdin 2>"$W/sim.log" <<'TOML' &
[[number]]
number = "5550100"
outcome = { kind = "fax", csi = "HYLAFAX C1" }
[[number]]
number = "5550101"
outcome = { kind = "fax", csi = "HYLAFAX C1 MR", dis = "1,5,0,2,1,0,0,0", train_max = 9600 }
TOML
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null; cd /; rm -rf "$W"' EXIT
i=0; while [ ! -e "$RACK/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
printf 'HylaFAX Class 1 through hw-sim, document one.\n' > "$W/a.txt"
printf 'HylaFAX Class 1 through hw-sim, document two.\n' > "$W/b.txt"
efix -i text -o tiffg3 "$W/a.txt" > "$SPOOL/docq/hwsim1.tif" 2>/dev/null
efix -i text -o tiffg3 "$W/b.txt" > "$SPOOL/docq/hwsim2.tif" 2>/dev/null
cd "$SPOOL"
fail=0

# send NUMBER DESIREDDF CODING: one job of the two documents; checks faxsend's result (2 =
# send_done) and the simulator's call record (Class 1, two pages in CODING, normal end).
send() {
    JOB=$$$2
    cat > "sendq/q$JOB" <<QFILE
jobid:$JOB
groupid:$JOB
state:6
jobtype:facsimile
number:$1
external:$1
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
modem:hwsimc1_ttySIM0
priority:127
resolution:196
pagewidth:215
pagelength:297
desiredbr:5
desiredec:0
desireddf:$2
desiredst:0
pagehandling:00M00P
fax:0::docq/hwsim1.tif
fax:0::docq/hwsim2.tif
QFILE
    rm -f log/c*
    set +e
    /usr/lib/hylafax/bin/faxsend -l -p -m hwsimc1_ttySIM0 "sendq/q$JOB" 2>/dev/null
    rc=$?
    set -e
    echo "== $1 (desireddf $2)"
    grep -E '^(npages|statuscode|returned):' "sendq/q$JOB"
    grep -hE 'training|TRAINING|recv MCF|EOM|EOP|USE .*-D' log/c* | sed 's/^.*]: //'
    CALL=$(tail -1 "$RACK/calls.jsonl")
    echo "$CALL"
    case "$CALL" in
    *'"class":"1"'*"\"coding\":\"$3\""*"\"coding\":\"$3\""*'"ended_by":"normal end"'*) ok=1 ;;
    *) ok=0 ;;
    esac
    if [ $rc -eq 2 ] && [ $ok -eq 1 ]; then
        echo "faxsend: send_done, 2 pages in Class 1, $3"
    else
        echo "faxsend exit $rc"
        fail=1
    fi
}

send 5550100 0 MH
send 5550101 1 MR
exit $fail
