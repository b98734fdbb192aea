# A fake musubi-tuner entry point (tests only): see tests/fakes/fake_musubi.py.
import os
import runpy

os.environ["FAKE_ENTRY"] = os.path.basename(__file__)  # runpy replaces sys.argv[0]
runpy.run_path(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_musubi.py"),
    run_name="__main__",
)
