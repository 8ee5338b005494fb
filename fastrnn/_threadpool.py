"""fastrnn's thread count under threadpoolctl, when threadpoolctl is there.

threadpoolctl (not a dependency) finds the thread pools of the libraries a
process has loaded and limits them: `threadpool_limits(limits=1)` is how
scikit-learn, joblib and Dask users keep nested parallelism in check. Its
controller for fastrnn matches the kernels' module by the symbols it exports
(fastrnn_get_num_threads / fastrnn_set_num_threads, fastrnn/_barrier.h) and
reports it as user_api "fastrnn". Registration waits until threadpoolctl is
imported (an import hook that removes itself), so `import fastrnn` imports
nothing optional.
"""
import importlib.abc
import sys

USER_API = "fastrnn"


def _register(threadpoolctl):
    if getattr(threadpoolctl, "_fastrnn_registered", False) or not hasattr(threadpoolctl, "register"):
        return

    from fastrnn._version import __version__

    class FastrnnController(threadpoolctl.LibController):
        user_api = USER_API
        internal_api = "fastrnn"
        filename_prefixes = ("_kernels",)
        check_symbols = ("fastrnn_get_num_threads", "fastrnn_set_num_threads")

        def get_num_threads(self):
            return self.dynlib.fastrnn_get_num_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.fastrnn_set_num_threads(max(1, int(num_threads)))

        def get_version(self):
            return __version__

    threadpoolctl.register(FastrnnController)
    threadpoolctl._fastrnn_registered = True


class _RegisterOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds threadpoolctl through the other finders, then registers the
    controller once its module has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "threadpoolctl":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return None
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register(module)


def install():
    """Register now if threadpoolctl is imported, else when it is."""
    if "threadpoolctl" in sys.modules:
        _register(sys.modules["threadpoolctl"])
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
