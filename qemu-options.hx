Our fragment of QEMU's qemu-options.hx. scripts/qemu-glue.py inserts the
"help" section into the -audiodev help text and the "doc" section into its
manual, both before the sdl driver's entries.
@@ help
#ifdef CONFIG_AUDIO_PIPEWIRE
    "-audiodev pipewire,id=id[,prop[=value][,...]]\n"
    "                in|out.name= source/sink node to connect to\n"
    "                in|out.stream-name= name of the stream's node\n"
    "                in|out.latency= desired latency in microseconds\n"
    "                in|out.min-quantum= shortest graph cycle a guest's period\n"
    "                         may ask for, in microseconds (0: no floor)\n"
#endif
@@ doc
``-audiodev pipewire,id=id[,prop[=value][,...]]``
    Creates a backend using PipeWire. This backend is available on
    modern Linux desktops, where PipeWire is the sound server; it is
    the default when QEMU is built with it and a PipeWire daemon
    answers. Each of the guest's audio voices becomes one PipeWire
    stream.

    PipeWire specific options are:

    ``in|out.name=node``
        Connect the stream to this node (a sink for playback, a source
        for recording), by its ``node.name`` or object serial, instead
        of the one the session manager chooses.

    ``in|out.stream-name=name``
        The name of the stream's node as ``pw-top`` and ``pw-dump``
        show it (``node.name`` and ``media.name``). Default is the
        audiodev's id.

    ``in|out.latency=usecs``
        The latency to ask PipeWire for, in microseconds, between 1000
        and 10000000. It sets the stream's ``node.latency`` and how much
        audio the backend keeps queued. Default is 46440 (about 46 ms).

    ``in|out.min-quantum=usecs``
        However short the periods the sound card says the guest uses,
        the stream asks PipeWire for a quantum (``node.latency``) of at
        least this many microseconds, so that a guest cannot drive the
        host's whole audio graph, shared with every other application,
        to a tiny quantum. It never raises the quantum above a quarter
        of ``latency``. Between 0 (no floor) and 10000000; default is
        2666 (128 frames at 48 kHz).
