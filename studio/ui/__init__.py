"""The PySide6 window: the only package allowed to import Qt, a thin skin over :mod:`studio.app`.

* ``app``, ``startup``, ``crash`` - starting the window (missing X libraries, no display), and
  a dialog instead of a silent crash.
* ``main_window`` - the tabs, the model bar, drag and drop, the status bar.
* ``session`` - what the panels share: the client, the open model, the library, the settings,
  the CLIP chosen.
* ``inference`` - the worker thread that owns torch; a submitted job's results come back to its
  :class:`~studio.ui.inference.Request`.
* ``jobs`` - the jobs panels submit: small closures over :mod:`studio.app` calls.
* ``panels/`` - Explore, Style Mix, Evolve, Export, Train, Library; each binds its widgets to a
  state object of :mod:`studio.app.state` where it has one.
* ``widgets/`` - the image grid, the large viewer, truncation, class and prompt controls.
"""
