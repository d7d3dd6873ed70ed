set -e
cd /work/main
for i in $(seq 0 30); do ip netns add fnexp-t$i; done
ip netns add fnexp-root
D=$(mktemp -d)
ip netns exec fnexp-root ip link set lo up
ip netns exec fnexp-root ip link add brexp type bridge
ip netns exec fnexp-root ip link set brexp up
ip netns exec fnexp-root node bin/fleetnet.mjs controller run --listen 127.0.0.1:7440 --db $D/state.db --log-level error > $D/ctl.log 2>&1 &
ip netns exec fnexp-root node bin/fleetnet.mjs agent run --socket $D/a.sock --state-dir $D/agent --listen 127.0.0.1:7441 --insecure-tcp --log-level error > $D/agent.log 2>&1 &
sleep 3
ip netns exec fnexp-root node bin/fleetnet.mjs --controller 127.0.0.1:7440 host add hb --addr 127.0.0.1:7441
ip netns exec fnexp-root node bin/fleetnet.mjs --controller 127.0.0.1:7440 net create bench --subnet 10.77.0.0/16 --bridge brexp
ip netns exec fnexp-root node --import tsx tmp-exp/ctl-lat.mts || true
pkill -f "state-dir $D/agent" || true; pkill -f "db $D/state.db" || true
sleep 1
for i in $(seq 0 30); do ip netns del fnexp-t$i; done
ip netns del fnexp-root
rm -rf $D
