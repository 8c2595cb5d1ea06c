/** The words kelp prints for an operating-system error on a file (after `kelp: <file>: `). */
export function systemMessage(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'not a directory';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'EMFILE': case 'ENFILE': return 'too many open files';
    case 'ENOSPC': return 'no space left on device';
    default: return e.code ?? e.message;
  }
}
