// fleetnet's native CNI plugin: the `fleetnet` and `fleetnet-ipam` executables that `fleetnet cni
// install` puts into the CNI plugin directory (issue 14). A runtime starts one plugin process per
// call, and a Node process costs more to start than the whole call; this one is a thin client of the
// local agent doing exactly what the Node fallback (cni/plugin.ts) does, and nothing more:
//  - CNI_COMMAND missing or not a command: error 4; VERSION: answered here, no agent needed;
//  - the agent: "agentSocket" in the configuration (at the top, else in "ipam"), else
//    FLEETNET_AGENT_SOCKET, else /run/fleetnet/agent.sock; its CNI socket beside it (-cni.sock);
//  - the call (cni/transport.ts): one JSON object, EOF; the reply: exit code, newline, stdout bytes;
//  - no agent answers: error 11 (50 for STATUS).
// The other checks (stdin JSON, cniVersion, the environment a command needs) and the work are the
// agent's (cni/call.ts). No allocation: fixed buffers, every read bounded.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONFIG (1 << 20) // cni/transport.ts MAX_CNI_CONFIG_BYTES
#define MAX_REPLY (1 << 20)  // cni/transport.ts MAX_CNI_REPLY_BYTES
#define TIMEOUT_S 120
#define CNI_VERSION "1.1.0"  // cni/spec.ts
static const char *const VERSIONS[] = {"0.4.0", "1.0.0", "1.1.0"};
static const char *const COMMANDS[] = {"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"};

static char config[MAX_CONFIG + 1];
static char reply[MAX_REPLY + 16];

// A buffered writer to a file descriptor (the agent's socket, or stdout); `failed` sticks.
struct out { int fd; int failed; size_t n; char buf[1 << 16]; };
static struct out req_out, std_out;

static void flush(struct out *o) {
  for (size_t off = 0; off < o->n && !o->failed;) {
    ssize_t w = o->fd == 1 ? write(1, o->buf + off, o->n - off) : send(o->fd, o->buf + off, o->n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) o->failed = errno ? errno : EIO;
    else off += (size_t)w;
  }
  o->n = 0;
}
static void put(struct out *o, const char *s, size_t len) {
  while (len) {
    if (o->n == sizeof o->buf) flush(o);
    size_t k = sizeof o->buf - o->n < len ? sizeof o->buf - o->n : len;
    memcpy(o->buf + o->n, s, k);
    o->n += k, s += k, len -= k;
  }
}
static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }
// A JSON string of the bytes (bytes >= 0x80 as they are: UTF-8 in, UTF-8 out).
static void put_json(struct out *o, const char *s, size_t len) {
  put(o, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c, put(o, esc, 2);
    else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c), put(o, esc, 6);
    else put(o, (const char *)&s[i], 1);
  }
  put(o, "\"", 1);
}

// The spec's error JSON on stdout, exit 1 (cni/plugin.ts failOutcome).
static int fail(const char *version, int code, const char *msg, const char *details) {
  char num[16];
  snprintf(num, sizeof num, "%d", code);
  puts_(&std_out, "{\"cniVersion\":"), put_json(&std_out, version, strlen(version));
  puts_(&std_out, ",\"code\":"), puts_(&std_out, num);
  puts_(&std_out, ",\"msg\":"), put_json(&std_out, msg, strlen(msg));
  if (*details) puts_(&std_out, ",\"details\":"), put_json(&std_out, details, strlen(details));
  puts_(&std_out, "}\n");
  flush(&std_out);
  return 1;
}

// Just enough JSON to find, as JSON.parse would, the configuration's "cniVersion" and "agentSocket"
// (top level) and "ipam"."agentSocket": strings without \u escapes only; anything malformed = none.
struct scan { const char *p, *end; char top_socket[256], ipam_socket[256], version[16]; };
static void ws(struct scan *s) { while (s->p < s->end && strchr(" \t\r\n", *s->p) && *s->p) s->p++; }
// A string at s->p into dst (truncated reads as absent: dst emptied); 0 if not a string.
static int str(struct scan *s, char *dst, size_t cap) {
  size_t n = 0;
  int fits = 1;
  if (s->p >= s->end || *s->p != '"') return 0;
  for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
    char c = *s->p;
    if ((unsigned char)c < 0x20) return 0;
    if (c == '\\') {
      if (++s->p >= s->end) return 0;
      switch (c = *s->p) {
      case '"': case '\\': case '/': break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u': // valid, but not decoded here: such a string reads as absent
        for (int i = 0; i < 4; i++)
          if (++s->p >= s->end || !strchr("0123456789abcdefABCDEF", *s->p) || !*s->p) return 0;
        fits = 0;
        break;
      default: return 0;
      }
    }
    if (n + 1 < cap) dst[n++] = c; else fits = 0;
  }
  if (s->p >= s->end) return 0;
  s->p++;
  if (cap) dst[fits ? n : 0] = 0;
  return 1;
}
// ctx: 0 the top object, 1 the "ipam" object, 2 anything else.
static int value(struct scan *s, int ctx, int depth) {
  char key[16], junk[1];
  ws(s);
  if (s->p >= s->end || depth > 64) return 0;
  if (*s->p == '"') return str(s, junk, 0);
  if (*s->p == '{' || *s->p == '[') {
    int obj = *s->p++ == '{';
    ws(s);
    if (s->p < s->end && *s->p == (obj ? '}' : ']')) return s->p++, 1;
    for (;;) {
      int sub = 2;
      if (obj) {
        ws(s);
        if (!str(s, key, sizeof key)) return 0;
        ws(s);
        if (s->p >= s->end || *s->p++ != ':') return 0;
        ws(s);
        char *dst = !strcmp(key, "agentSocket") && ctx < 2 ? (ctx ? s->ipam_socket : s->top_socket)
                  : !strcmp(key, "cniVersion") && ctx == 0 ? s->version : NULL;
        size_t cap = dst == s->version ? sizeof s->version : sizeof s->top_socket;
        if (dst) *dst = 0;
        if (dst && s->p < s->end && *s->p == '"') { if (!str(s, dst, cap)) return 0; goto next; }
        if (ctx == 0 && !strcmp(key, "ipam")) sub = 1, *s->ipam_socket = 0;
      }
      if (!value(s, sub, depth + 1)) return 0;
    next:
      ws(s);
      if (s->p < s->end && *s->p == ',') { s->p++; continue; }
      return s->p < s->end && *s->p++ == (obj ? '}' : ']');
    }
  }
  const char *start = s->p; // a number, true, false or null
  while (s->p < s->end && strchr("+-.0123456789eEtruefalsn", *s->p) && *s->p) s->p++;
  return s->p > start;
}

int main(int argc, char **argv) {
  (void)argc;
  std_out.fd = 1;
  const char *command = getenv("CNI_COMMAND"), *base = strrchr(argv[0] ? argv[0] : "", '/');
  const char *plugin = strstr(base ? base + 1 : argv[0] ? argv[0] : "", "ipam") ? "fleetnet-ipam" : "fleetnet";
  size_t known = 0;
  while (command && known < 6 && strcmp(command, COMMANDS[known])) known++;
  if (!command || !*command)
    return fail(CNI_VERSION, 4, "CNI_COMMAND is not set", "set CNI_COMMAND to ADD, DEL, CHECK, GC, STATUS or VERSION");
  if (known == 6) {
    char msg[300];
    snprintf(msg, sizeof msg, "CNI_COMMAND '%.200s' is not a CNI command", command);
    return fail(CNI_VERSION, 4, msg, "one of ADD, DEL, CHECK, GC, STATUS, VERSION");
  }
  if (!strcmp(command, "VERSION")) {
    puts_(&std_out, "{\"cniVersion\":\"" CNI_VERSION "\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
    flush(&std_out);
    return std_out.failed ? 1 : 0;
  }

  size_t len = 0;
  for (ssize_t r; len <= MAX_CONFIG; len += (size_t)r) {
    r = read(0, config + len, MAX_CONFIG + 1 - len);
    if (r < 0 && errno == EINTR) r = 0;
    else if (r <= 0) break; // EOF; a stdin that cannot be read is an empty one (as in cni/plugin.ts)
  }
  if (len > MAX_CONFIG)
    return fail(CNI_VERSION, 6, "the network configuration on stdin is over 1048576 bytes",
                "a network configuration is a few kilobytes");

  struct scan sc = {.p = config, .end = config + len};
  int ok = 0;
  ws(&sc);
  if (sc.p < sc.end && *sc.p == '{' && value(&sc, 0, 0)) ws(&sc), ok = sc.p == sc.end;
  if (!ok) *sc.top_socket = *sc.ipam_socket = *sc.version = 0;
  const char *env_socket = getenv("FLEETNET_AGENT_SOCKET"), *version = CNI_VERSION;
  const char *agent = *sc.top_socket ? sc.top_socket : *sc.ipam_socket ? sc.ipam_socket
                    : env_socket && *env_socket ? env_socket : "/run/fleetnet/agent.sock";
  for (size_t i = 0; i < 3; i++) if (!strcmp(sc.version, VERSIONS[i])) version = VERSIONS[i];

  // agent.sock -> agent-cni.sock (cni/transport.ts cniSocketOf)
  static char cni_path[8192], msg[8300], details[17000];
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t alen = strlen(agent), stem = alen >= 5 && !strcmp(agent + alen - 5, ".sock") ? alen - 5 : alen;
  snprintf(cni_path, sizeof cni_path, "%.*s-cni.sock", (int)(stem < 4096 ? stem : 4096), agent);
  char why[400] = "";
  int fd = -1;
  if (strlen(cni_path) >= sizeof addr.sun_path) {
    snprintf(why, sizeof why, "the socket path is longer than %zu bytes", sizeof addr.sun_path - 1);
  } else {
    memcpy(addr.sun_path, cni_path, strlen(cni_path) + 1);
    struct timeval tv = {.tv_sec = TIMEOUT_S};
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv)
        || connect(fd, (struct sockaddr *)&addr, sizeof addr))
      snprintf(why, sizeof why, "connect %s: %s", addr.sun_path, strerror(errno));
  }
  size_t got = 0;
  if (!*why) {
    static const char *const fields[][2] = {{"containerId", "CNI_CONTAINERID"}, {"netns", "CNI_NETNS"},
      {"ifname", "CNI_IFNAME"}, {"args", "CNI_ARGS"}, {"path", "CNI_PATH"}};
    req_out.fd = fd;
    puts_(&req_out, "{\"plugin\":\""), puts_(&req_out, plugin), puts_(&req_out, "\",\"command\":\"");
    puts_(&req_out, command), puts_(&req_out, "\"");
    for (size_t i = 0; i < 5; i++) {
      const char *v = getenv(fields[i][1]);
      puts_(&req_out, ",\""), puts_(&req_out, fields[i][0]), puts_(&req_out, "\":");
      put_json(&req_out, v ? v : "", v ? strlen(v) : 0);
    }
    puts_(&req_out, ",\"config\":"), put_json(&req_out, config, len), puts_(&req_out, "}");
    flush(&req_out);
    if (req_out.failed || shutdown(fd, SHUT_WR))
      snprintf(why, sizeof why, "sending to the agent: %s", strerror(req_out.failed ? req_out.failed : errno));
    for (ssize_t r = 1; !*why && r > 0;) {
      r = read(fd, reply + got, sizeof reply - got);
      if (r < 0 && errno == EINTR) r = 1;
      else if (r < 0) snprintf(why, sizeof why, "%s", errno == EAGAIN ? "no answer from the agent in 120000 ms" : strerror(errno));
      else if ((got += (size_t)r) == sizeof reply) snprintf(why, sizeof why, "the agent's answer is over %d bytes", MAX_REPLY);
    }
  }
  // The reply: the exit code (0..255), a newline, then stdout (cni/transport.ts decodeReply).
  char *nl = *why ? NULL : memchr(reply, '\n', got > 4 ? 4 : got);
  char *num_end = NULL;
  long code = nl && nl > reply ? strtol(reply, &num_end, 10) : -1;
  if (!*why && (!nl || num_end != nl || code < 0 || code > 255 || reply[0] < '0' || reply[0] > '9'))
    snprintf(why, sizeof why, "%s", got ? "the agent's answer is not a CNI reply" : "the agent closed without an answer");
  if (*why) {
    snprintf(msg, sizeof msg, "the fleetnet agent does not answer at %s", cni_path);
    snprintf(details, sizeof details, "%s; start it: fleetnet agent run --socket %.4096s (or set agentSocket in the configuration)",
             why, agent);
    return fail(version, strcmp(command, "STATUS") ? 11 : 50, msg, details);
  }
  put(&std_out, nl + 1, got - (size_t)(nl + 1 - reply));
  flush(&std_out);
  return std_out.failed ? 1 : (int)code;
}
