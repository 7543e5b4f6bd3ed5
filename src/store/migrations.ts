/**
 * Numbered schema migrations; index i moves the schema from user_version i to i+1. Never edit one that
 * has shipped: add the next.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    config TEXT NOT NULL,
    layers TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE tags (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE layers (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    size INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE containers (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('creating','created','running','paused','exited','removing','dead')),
    pid INTEGER NOT NULL DEFAULT 0,
    pid_start INTEGER NOT NULL DEFAULT 0,
    conmon_pid INTEGER NOT NULL DEFAULT 0,
    conmon_start INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER NOT NULL DEFAULT 0,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    mounted INTEGER NOT NULL DEFAULT 0,
    restart_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL DEFAULT '',
    lock_pid INTEGER NOT NULL DEFAULT 0,
    lock_start INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX containers_image ON containers(image_id);
  `,
  `
  CREATE TABLE exec_sessions (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0,
    pid_start INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0 CHECK (running IN (0, 1)),
    exit_code INTEGER,
    created_at TEXT NOT NULL
  );
  CREATE INDEX exec_sessions_container ON exec_sessions(container_id);
  `,
  `
  CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL DEFAULT 'local',
    options TEXT NOT NULL DEFAULT '{}',
    labels TEXT NOT NULL DEFAULT '{}',
    anonymous INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    needs_copy_up INTEGER NOT NULL DEFAULT 1 CHECK (needs_copy_up IN (0, 1)),
    created_at TEXT NOT NULL
  );
  `,
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL DEFAULT 'bridge',
    bridge TEXT NOT NULL UNIQUE,
    subnets TEXT NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    ipv6 INTEGER NOT NULL DEFAULT 0 CHECK (ipv6 IN (0, 1)),
    mtu INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
  );
  ALTER TABLE containers ADD COLUMN net TEXT NOT NULL DEFAULT '{}';
  `,
  `
  ALTER TABLE layers ADD COLUMN blob_digest TEXT NOT NULL DEFAULT '';
  ALTER TABLE layers ADD COLUMN blob_type TEXT NOT NULL DEFAULT '';
  ALTER TABLE layers ADD COLUMN blob_size INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE layers ADD COLUMN link TEXT NOT NULL DEFAULT '';
  ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT '';
  CREATE TABLE repo_digests (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
  );
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  CREATE TABLE blob_sources (
    digest TEXT NOT NULL,
    repo TEXT NOT NULL,
    PRIMARY KEY (digest, repo)
  );
  `,
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX events_time ON events(time_us);
  `,
  `
  -- The monitor is the runtime driver's business (conmon for OciDriver): the schema names it generically.
  ALTER TABLE containers RENAME COLUMN conmon_pid TO monitor_pid;
  ALTER TABLE containers RENAME COLUMN conmon_start TO monitor_start;
  `,
  `
  -- An exec can be created now and started later (docker's exec create, then start). Every session
  -- recorded before this was started as it was made: the default says so.
  ALTER TABLE exec_sessions ADD COLUMN started INTEGER NOT NULL DEFAULT 1 CHECK (started IN (0, 1));
  `,
  `
  -- Restart policies (src/engine/restart-policy.ts): when an exited container is due to run again ('' when
  -- it is not), the wait that preceded its last restart, and whether the user stopped it since it started.
  ALTER TABLE containers ADD COLUMN restart_at TEXT NOT NULL DEFAULT '';
  ALTER TABLE containers ADD COLUMN restart_delay_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE containers ADD COLUMN stopped_by_user INTEGER NOT NULL DEFAULT 0 CHECK (stopped_by_user IN (0, 1));
  `,
  `
  -- Health checks (src/engine/healthcheck.ts): the container's health as JSON, '' when it has no check.
  ALTER TABLE containers ADD COLUMN health TEXT NOT NULL DEFAULT '';
  `,
  `
  -- The build cache (src/engine/build/): a step's key (its parent, its instruction, the content it read)
  -- to the image the step made. The image going takes its entries with it.
  CREATE TABLE build_cache (
    key TEXT PRIMARY KEY CHECK (length(key) = 64),
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used TEXT NOT NULL
  );
  CREATE INDEX build_cache_image ON build_cache(image_id);
  `,
  `
  -- Networks (src/engine/networks.ts): the driver options as given (docker's Options, JSON) and Attachable.
  ALTER TABLE networks ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE networks ADD COLUMN attachable INTEGER NOT NULL DEFAULT 0 CHECK (attachable IN (0, 1));
  `,
  `
  -- Pods (src/engine/pods/): a group of containers sharing an infra container's namespaces and a cgroup. The
  -- config (JSON) never changes after create; which containers belong is each one's config.pod, indexed.
  CREATE TABLE pods (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX containers_pod ON containers(json_extract(config, '$.pod'));
  `,
  `
  -- A pinned pod's namespaces while it is up (src/engine/pods/pinned.ts): what the engine made for it (JSON),
  -- empty when it is down. Other pods keep theirs in their infra container.
  ALTER TABLE pods ADD COLUMN state TEXT NOT NULL DEFAULT '{}';
  `,
];
