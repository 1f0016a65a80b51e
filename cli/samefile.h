/* samefile.h — refusing outputs that would overwrite an input or mix with
 * another output, before any of them is opened (`cepheus run`). */
#ifndef CEP_SAMEFILE_H
#define CEP_SAMEFILE_H

/* One file named on the command line: path, or fd when path is NULL (an
 * already open standard stream); what names it in messages ("--late", "the
 * pattern file", "input"). */
typedef struct named_file {
    const char *what;
    const char *path;
    int fd;
} named_file;

/* EXIT_OK, or EXIT_USAGE after a message when an output is one of the
 * inputs or another output: the same regular file (device and inode), or
 * for files that do not exist yet the same path once their directory is
 * resolved. Devices, FIFOs and sockets (/dev/null, a pipe) may repeat. */
int check_outputs_distinct(const named_file *in, int nin, const named_file *out, int nout);

#endif
