/**
 * Why a directory could not be made, in a few words for a person, instead of
 * Node's "EEXIST: file already exists, mkdir '…'" (a file where the data dir
 * should be) and the like.
 */
export function directoryErrorReason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'EEXIST':
      return 'a file is there, not a directory';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return message;
  }
}
