/* runopts.c — `cepheus run`'s options: the table getopt_long reads, one
 * function a value, and the rules on which options go together. Every
 * bad option is a usage error (exit 2) that names it. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* getopt_long */
#endif

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "runopts.h"

enum {
    OPT_STRICT = 256, OPT_MAX_PMS, OPT_ON_LIMIT, OPT_CHECKPOINT, OPT_CHECKPOINT_EVERY,
    OPT_RESTORE, OPT_STATE_TTL, OPT_TIME, OPT_MAX_MEMORY, OPT_LATENESS, OPT_ERRORS, OPT_MAX_LINE,
    OPT_KAFKA, OPT_TOPIC, OPT_GROUP, OPT_OUT_TOPIC, OPT_LATE_TOPIC, OPT_TIMEOUTS_TOPIC,
    OPT_STATE_TOPIC, OPT_INSTANCE, OPT_TXN_EVENTS, OPT_TXN_MS, OPT_THREADS, OPT_PROGRESS,
    OPT_NO_PROGRESS, OPT_FLUSH, OPT_METRICS, OPT_LOAD, OPT_CHECKPOINT_INTERVAL, OPT_MIN_PAUSE, OPT_SAVEPOINT_DIR,
    OPT_OUTPUT_FORM, OPT_CKPT_LOG
};

static const struct option run_table[] = {
    {"output", required_argument, NULL, 'o'},
    {"output-form", required_argument, NULL, OPT_OUTPUT_FORM},
    {"time-field", required_argument, NULL, 't'},
    {"max-delay", required_argument, NULL, 'd'},
    {"late", required_argument, NULL, 'l'},
    {"timeouts", required_argument, NULL, 'T'},
    {"stats", no_argument, NULL, 's'},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"max-partial-matches", required_argument, NULL, OPT_MAX_PMS},
    {"on-limit", required_argument, NULL, OPT_ON_LIMIT},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
    {"restore", required_argument, NULL, OPT_RESTORE},
    {"checkpoint-interval", required_argument, NULL, OPT_CHECKPOINT_INTERVAL},
    {"checkpoint-min-pause", required_argument, NULL, OPT_MIN_PAUSE},
    {"savepoint-dir", required_argument, NULL, OPT_SAVEPOINT_DIR},
    {"checkpoint-log", required_argument, NULL, OPT_CKPT_LOG},
    {"state-ttl", required_argument, NULL, OPT_STATE_TTL},
    {"time", required_argument, NULL, OPT_TIME},
    {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"allowed-lateness", required_argument, NULL, OPT_LATENESS},
    {"errors", required_argument, NULL, OPT_ERRORS},
    {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"kafka", required_argument, NULL, OPT_KAFKA},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"group", required_argument, NULL, OPT_GROUP},
    {"output-topic", required_argument, NULL, OPT_OUT_TOPIC},
    {"late-topic", required_argument, NULL, OPT_LATE_TOPIC},
    {"timeouts-topic", required_argument, NULL, OPT_TIMEOUTS_TOPIC},
    {"state-topic", required_argument, NULL, OPT_STATE_TOPIC},
    {"instance-id", required_argument, NULL, OPT_INSTANCE},
    {"txn-events", required_argument, NULL, OPT_TXN_EVENTS},
    {"txn-ms", required_argument, NULL, OPT_TXN_MS},
    {"quiet", no_argument, NULL, 'q'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"flush-interval", required_argument, NULL, OPT_FLUSH},
    {"load", required_argument, NULL, OPT_LOAD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* A non-negative integer option (the current optarg) into *out, or the
 * usage error that names it. */
static int int_option(const char *name, const char *unit, int64_t *out) {
    if (parse_ms(optarg, out) < 0)
        return usage_error("invalid --%s '%s': expected a non-negative integer (%s)", name, optarg, unit);
    return EXIT_OK;
}

/* A duration option (the current optarg) into *out, in milliseconds: a
 * plain integer is milliseconds, or the language's units (5s, 1h). */
static int duration_option(const char *name, int64_t *out) {
    if (parse_duration(optarg, out) < 0)
        return usage_error("invalid --%s '%s': expected a duration: milliseconds, or an integer "
                           "followed by ms, s, m, h or d (e.g. 5s)", name, optarg);
    return EXIT_OK;
}

/* --max-memory: bytes, or with a k, M or G suffix (powers of 1024). */
static int size_option(const char *name, int64_t *out) {
    char digits[32];
    size_t n = strlen(optarg);
    int shift = 0;
    if (n && strchr("kKmMgG", optarg[n - 1])) {
        char u = (char)(optarg[n - 1] | 0x20);
        shift = u == 'k' ? 10 : u == 'm' ? 20 : 30;
        n--;
    }
    if (n == 0 || n >= sizeof digits) return usage_error("invalid --%s '%s'", name, optarg);
    memcpy(digits, optarg, n);
    digits[n] = '\0';
    if (parse_ms(digits, out) < 0 || *out > (INT64_MAX >> shift))
        return usage_error("invalid --%s '%s': expected bytes, or a number with k, M or G", name, optarg);
    *out <<= shift;
    return EXIT_OK;
}

/* One of a fixed set of words: the index of optarg in words, or the usage
 * error that lists them. */
static int word_option(const char *name, const char *w0, const char *w1, int *out) {
    if (!strcmp(optarg, w0)) *out = 0;
    else if (!strcmp(optarg, w1)) *out = 1;
    else return usage_error("invalid --%s '%s': expected %s or %s", name, optarg, w0, w1);
    return EXIT_OK;
}

/* Kafka mode's options (cli/kafka.c uses them). */
static int kafka_option(run_kafka_opts *k, int c) {
    switch (c) {
    case OPT_KAFKA: k->brokers = optarg; break;
    case OPT_TOPIC: k->topic = optarg; break;
    case OPT_GROUP: k->group = optarg; break;
    case OPT_OUT_TOPIC: k->out_topic = optarg; break;
    case OPT_LATE_TOPIC: k->late_topic = optarg; break;
    case OPT_TIMEOUTS_TOPIC: k->timeouts_topic = optarg; break;
    case OPT_STATE_TOPIC: k->state_topic = optarg; break;
    case OPT_INSTANCE: k->instance = optarg; break;
    case OPT_TXN_EVENTS:
    case OPT_TXN_MS: {
        int64_t v;
        if ((c == OPT_TXN_MS ? parse_duration(optarg, &v) : parse_ms(optarg, &v)) < 0 || v == 0)
            return usage_error("invalid %s '%s': expected a positive integer%s",
                               c == OPT_TXN_MS ? "--txn-ms" : "--txn-events", optarg,
                               c == OPT_TXN_MS ? " (milliseconds) or a duration (e.g. 2s)" : "");
        *(c == OPT_TXN_MS ? &k->txn_ms : &k->txn_events) = v;
        break;
    }
    case 'X':
        if (k->nconf == RUN_MAX_KAFKA_CONF) return usage_error("too many -X options");
        if (!strchr(optarg, '=')) return usage_error("invalid -X '%s': expected KEY=VALUE", optarg);
        k->conf[k->nconf++] = optarg;
        break;
    }
    return EXIT_OK;
}

/* The options of the engine and the reading loop; c is known. */
static int engine_option(run_opts *o, int c) {
    switch (c) {
    case 't':
        if (!*optarg) return usage_error("the time field name is empty");
        o->time_field = optarg;
        return EXIT_OK;
    case 'd': return duration_option("max-delay", &o->max_delay);
    case OPT_MAX_PMS:
        if (parse_ms(optarg, &o->max_pms) < 0 || o->max_pms > UINT32_MAX)
            return usage_error("invalid --max-partial-matches '%s': expected "
                               "an integer from 0 to 4294967295", optarg);
        return EXIT_OK;
    case OPT_CHECKPOINT_EVERY:
        if (parse_ms(optarg, &o->checkpoint_every) < 0 || o->checkpoint_every == 0)
            return usage_error("invalid --checkpoint-every '%s': expected a positive integer (events)", optarg);
        o->every_given = 1;
        return EXIT_OK;
    case OPT_CHECKPOINT_INTERVAL:
        if (parse_duration(optarg, &o->checkpoint_ms) < 0 || o->checkpoint_ms == 0)
            return usage_error("invalid --checkpoint-interval '%s': expected a positive duration: "
                               "milliseconds, or an integer followed by ms, s, m, h or d (e.g. 10s)", optarg);
        return EXIT_OK;
    case OPT_MIN_PAUSE:
        o->min_pause_given = 1;
        if (!strcmp(optarg, "auto")) o->min_pause_ms = MIN_PAUSE_AUTO;
        else if (parse_duration(optarg, &o->min_pause_ms) < 0)
            return usage_error("invalid --checkpoint-min-pause '%s': expected auto or a duration: milliseconds, "
                               "or an integer followed by ms, s, m, h or d (e.g. 2s)", optarg);
        return EXIT_OK;
    case OPT_MAX_MEMORY: return size_option("max-memory", &o->max_memory);
    case OPT_LATENESS: return duration_option("allowed-lateness", &o->lateness);
    case OPT_TIME: return word_option("time", "event", "processing", &o->processing_time);
    case OPT_STATE_TTL: return duration_option("state-ttl", &o->state_ttl);
    case OPT_THREADS:
        if (parse_ms(optarg, &o->threads) < 0 || o->threads < 1 || o->threads > 256)
            return usage_error("invalid --threads '%s': expected an integer from 1 to 256", optarg);
        return EXIT_OK;
    case OPT_MAX_LINE: return int_option("max-line-bytes", "bytes; 0: no limit", &o->max_line);
    case OPT_ON_LIMIT: return word_option("on-limit", "drop", "fail", &o->limit_fail);
    case OPT_FLUSH: return duration_option("flush-interval", &o->flush_ms);
    }
    return EXIT_OK;
}

/* One option getopt_long returned. */
static int one_option(run_opts *o, int c, char **argv) {
    switch (c) {
    case 'W': return warn_option(&o->warn, optarg) == EXIT_OK ? EXIT_OK : EXIT_USAGE;
    case OPT_LOAD: return cli_load_plugin(optarg) == EXIT_OK ? EXIT_OK : EXIT_USAGE;
    case OPT_KAFKA: case OPT_TOPIC: case OPT_GROUP: case OPT_OUT_TOPIC: case OPT_LATE_TOPIC:
    case OPT_TIMEOUTS_TOPIC: case OPT_STATE_TOPIC: case OPT_INSTANCE: case OPT_TXN_EVENTS:
    case OPT_TXN_MS: case 'X':
        return kafka_option(&o->kafka, c);
    case 't': case 'd': case OPT_MAX_PMS: case OPT_CHECKPOINT_EVERY: case OPT_CHECKPOINT_INTERVAL: case OPT_MIN_PAUSE:
    case OPT_MAX_MEMORY:
    case OPT_LATENESS: case OPT_TIME: case OPT_STATE_TTL: case OPT_THREADS: case OPT_MAX_LINE:
    case OPT_ON_LIMIT: case OPT_FLUSH:
        return engine_option(o, c);
    case 'o': o->output = optarg; break;
    case OPT_OUTPUT_FORM: return word_option("output-form", "events", "positions", &o->positions);
    case 'T': o->timeouts = optarg; break;
    case 'l': o->late = optarg; break;
    case 's': o->stats = 1; break;
    case OPT_STRICT: o->strict = 1; break;
    case OPT_CHECKPOINT: o->checkpoint_dir = optarg; break;
    case OPT_RESTORE: o->restore_dir = optarg; break;
    case OPT_SAVEPOINT_DIR: o->savepoint_dir = optarg; break;
    case OPT_CKPT_LOG: o->checkpoint_log = optarg; break;
    case OPT_ERRORS: o->errors = optarg; break;
    case OPT_METRICS: o->metrics = optarg; break;
    case 'q': o->quiet = 1; break;
    case OPT_PROGRESS:
    case OPT_NO_PROGRESS: o->progress = c == OPT_PROGRESS; break;
    case 'h':
        fputs(usage_text, stdout);
        return RUN_HELP;
    default: return option_error_in(c, argv, run_table);
    }
    return EXIT_OK;
}

/* Options that exclude each other, or need another. */
static int check_combinations(const run_opts *o) {
    const run_kafka_opts *k = &o->kafka;
    if (o->positions && (k->brokers || k->topic || k->group || k->out_topic))
        return usage_error("--output-form positions does not apply with --kafka: an event's place is its "
                           "partition and offset");
    if (o->positions && (o->checkpoint_dir || o->restore_dir))
        return usage_error("--output-form positions cannot be used with --checkpoint or --restore: "
                           "a checkpoint does not keep the positions of the events it holds");
    if (k->brokers || k->topic || k->group || k->out_topic) {
#ifdef CEP_HAVE_KAFKA
        if (!k->brokers || !k->topic || !k->group || !k->out_topic)
            return usage_error("Kafka mode needs --kafka, --topic, --group and --output-topic");
        if (o->threads) return usage_error("--threads does not apply with --kafka: it runs an engine per partition");
        if (o->ninputs || o->output || o->late || o->timeouts || o->checkpoint_dir || o->restore_dir ||
            o->savepoint_dir || o->processing_time || o->max_memory || o->strict || o->errors || o->max_line ||
            o->min_pause_given || o->checkpoint_log)
            return usage_error("with --kafka, events come from --topic and results go to topics: event "
                               "files, --output, --late, --timeouts, --checkpoint, --checkpoint-min-pause, "
                               "--checkpoint-log, --restore, --savepoint-dir, --time "
                               "processing, --max-memory, --strict, --errors and --max-line-bytes do not apply");
        return EXIT_OK;
#else
        return usage_error("this cepheus was built without Kafka support (install librdkafka, "
                           "Debian: librdkafka-dev, and configure --with-kafka)");
#endif
    }
    if ((o->every_given || o->checkpoint_ms) && !o->checkpoint_dir)
        return usage_error("--checkpoint-every and --checkpoint-interval need --checkpoint DIR");
    if (o->min_pause_given && !o->checkpoint_dir) return usage_error("--checkpoint-min-pause needs --checkpoint DIR");
    if (o->checkpoint_log && !o->checkpoint_dir && !o->savepoint_dir)
        return usage_error("--checkpoint-log needs --checkpoint DIR or --savepoint-dir DIR");
    if (k->late_topic || k->timeouts_topic || k->state_topic || k->instance || k->nconf)
        return usage_error("--late-topic, --timeouts-topic, --state-topic, --instance-id and -X need --kafka");
    if (o->checkpoint_dir || o->restore_dir || o->savepoint_dir) {
        /* Resuming means seeking the input and truncating the output. */
        int ck = o->checkpoint_dir || o->restore_dir;
        const char *what = ck ? "--checkpoint and --restore need" : "--savepoint-dir needs";
        if (!o->output) return usage_error("%s --output FILE", what);
        if (!o->ninputs) return usage_error("%s event files, not standard input", what);
        for (int i = 0; i < o->ninputs; i++)
            if (!strcmp(o->inputs[i], "-")) return usage_error("%s event files, not standard input", what);
        /* Each output is measured at a checkpoint and cut back by a
         * restore: a pipe failed only at the first checkpoint (exit 4). */
        const char *names[] = {"--output", "--late", "--timeouts", "--errors"};
        const char *paths[] = {o->output, o->late, o->timeouts, o->errors};
        struct stat st;
        for (int i = 0; i < 4; i++)
            if (paths[i] && stat(paths[i], &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
                return usage_error("%s outputs that can be cut back to a checkpoint: %s '%s' is a pipe", what,
                                   names[i], paths[i]);
    }
    return EXIT_OK;
}

int run_options(int argc, char **argv, run_opts *o) {
    *o = (run_opts){.time_field = CEP_DEFAULT_TIME_FIELD, .checkpoint_every = 100000,
                    .min_pause_ms = MIN_PAUSE_AUTO, .progress = -1, .flush_ms = 100,
                    .kafka = {.txn_events = 10000, .txn_ms = 1000}};
    int c;
    while ((c = getopt_long(argc, argv, ":o:t:d:l:T:shqX:W:", run_table, NULL)) != -1) {
        int st = one_option(o, c, argv);
        if (st != EXIT_OK) return st;
    }
    /* By time alone, unless both are given. */
    if (o->checkpoint_ms && !o->every_given) o->checkpoint_every = 0;
    if (optind >= argc) return usage_error("run needs a pattern file");
    o->pattern_file = argv[optind++];
    o->inputs = argv + optind;
    o->ninputs = argc - optind;
    return check_combinations(o);
}
