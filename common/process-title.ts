// Names fleetnet's long-running processes for ps, top, pgrep and systemd. From Node 24 on, every Node process's
// main thread is called "MainThread", so an agent, a controller and anything else in Node all showed up under that
// name in top and `ps -e`, and `pgrep node` found none of them. process.title (libuv) sets the kernel's short name
// (its first 15 bytes: `fleetnet-agent`, `fleetnet-contro`) and the command line `ps -f` shows, which keeps the
// arguments after the name (so `pgrep -f /run/fleetnet/agent.sock` still finds an agent by its socket).
export function nameProcess(name: string, argv: readonly string[] = process.argv): void {
  process.title = [name, ...argv.slice(2)].join(' ');
}
