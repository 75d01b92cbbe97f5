"""Every limit on the work a spec can ask for, in one place (README: "Limits and safety").

Each is checked before the work it bounds, so a hostile or mistaken spec fails
fast with a located error instead of hanging or exhausting memory.
"""
MAX_FILE_BYTES = 16 * 2**20       # one spec or block library file (a 400k-node spec is ~14 MiB)
MAX_YAML_VALUES = 4_000_000       # values in one file after alias expansion (YAML "billion laughs")
MAX_YAML_DEPTH = 100              # nesting of YAML lists and mappings
MAX_INT = 2**63                   # magnitude of an integer in YAML or produced by an expression
MAX_ELEMENTS = 2**48              # elements of one node's output or one tensor (PyTorch's storage is < 2^63 bytes)
MAX_NAME = 64                     # characters of a node, block, parameter or output name
MAX_NODES = 250_000               # op nodes in one graph (expanding 100k takes about 2.5 s)
MAX_INSTANCES = 1_000_000         # nodes, blocks, groups and repeat steps instantiated
MAX_REPEAT = 100_000              # steps of one repeat
MAX_SCOPE_DEPTH = 48              # blocks and groups nested in each other
MAX_EXPR_CHARS = 1_000            # characters of one ${...}
MAX_EXPR_NODES = 500              # syntax-tree nodes of one ${...}
MAX_SIZE = 10_000                 # length of a string or list an expression produces
MAX_BATCH = 2**20                 # a batch size on the command line (summary --batch, train --batch-size)
MAX_ERRORS = 100                  # errors reported before archspec stops looking
MAX_MESSAGE = 500                 # characters of one reported line: spec text is never echoed at length
MAX_GLOSSARY_BOXES = 400          # boxes a diagram's block glossary draws (the shipped specs' largest: 83);
                                  # structures past it are counted in the legend, not drawn
MAX_TABLE_CELLS = 4_096           # cells of one conv's `connections:` table (LeNet-5's C3: 96); each is drawn
                                  # in the diagram and written into the built module
MAX_DIFF_PAIRS = 1_000_000        # rows A x rows B that `diff` aligns with difflib whole (quadratic); above it,
                                  # anchored on rows unique to each side first, the gaps in bounded slices
MAX_PAGES = 16                    # pages of a PNG or PDF diagram cut at 16,000 px (render.MAX_PX); a longer one
                                  # is refused (projected from its ranks before Graphviz runs): svg or --depth
