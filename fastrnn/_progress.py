"""Progress for the long-running commands (bench, conformance), on stderr."""
import sys


def progress(i, total, text, stream=None):
    """A progress bar on a terminal (redrawn in place), plain lines otherwise."""
    stream = stream or sys.stderr
    if not stream.isatty():
        if text:
            stream.write(f"[{i + 1}/{total}] {text}\n")
        stream.flush()
        return
    width = 24
    done = int(width * i / total)
    line = f"[{'#' * done}{'.' * (width - done)}] {i}/{total} {text}" if text else ""
    stream.write("\r\033[K" + line)  # \033[K clears the rest of the line
    stream.flush()
