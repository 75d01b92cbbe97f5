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
MAX_COMPREHENSION = 1_000         # items one list comprehension visits (each evaluates its <= 500 terms)
MAX_BATCH = 2**20                 # a batch size on the command line (summary --batch, train --batch-size)
MAX_ERRORS = 100                  # errors reported before archspec stops looking
MAX_MESSAGE = 500                 # characters of one reported line: spec text is never echoed at length
# A paper's `table:` (archspec/reports/table.py). Each configuration is a whole network, built in turn;
# rows may span whole blocks, so the cells' work is counted in node figures read, not rows.
MAX_TABLE_ROWS = 1_000            # rows and totals a table lists (`rows: segments` makes one per layer run)
MAX_TABLE_CONFIGURATIONS = 16     # networks side by side (VGG's A-E has 6)
MAX_TABLE_NODES = 100_000         # nodes of all configurations' networks together, projected before the first
MAX_TABLE_READS = 5_000_000       # node figures the cells read: each row's nodes x its columns
# Files naming files (archspec/frontend/spec.py): each level is a stack frame; a real variant is 1-3 deep.
MAX_FILE_CHAIN = 32               # files in one chain of `extends:`, or of libraries each `use:`-ing the next
# `init: zero:` (archspec/pytorch/emit/init.py): a plain name is a lookup; a glob tests the names sharing
# its literal prefix.
MAX_INIT_TESTS = 2_000_000        # node names the zero: globs test together (`*.bn3` over 250k nodes: 250k)

# Checkpoints and training data are untrusted input too (archspec/pytorch/train/): a checkpoint is read by
# archspec's own bounded reader (never torch.load, whose weights_only unpickler still lets an
# 800-byte file allocate any amount: REDUCE of bytearray or a tensor class), every record stored
# (never compressed) and every tensor the whole of its own storage.
MAX_CHECKPOINT_BYTES = 2 * 2**30      # one checkpoint file (VGG-19 with SGD momentum is 1.15 GB)
MAX_CHECKPOINT_RECORDS = 100_000      # entries of its zip: one per tensor (ResNet-152 with momentum: ~1,900)
MAX_CHECKPOINT_PICKLE = 20 * 2**20    # its data.pkl (spec text, names, history), read by Python at ~0.4 us an opcode
MAX_CHECKPOINT_FILES = 256            # spec files embedded in one (the spec, its bases and libraries)
MAX_CHECKPOINT_TEXT = 16 * 2**20      # UTF-8 bytes of every embedded file and --set string, each entry counted
MAX_DATA_ELEMENTS = 2**22             # values of one training image, C x H x W (3 x 1024 x 1024 is 3.1M)
MAX_IMAGE_PIXELS = 2**26              # pixels of one image file in a data folder, checked before it is decoded
MAX_VISUALIZE_ELEMENTS = 2**28        # activations of one forward pass in `visualize` (1 GiB of float32)

# Drawing and comparing (archspec/reports/render.py, diff.py): each cost linear in the graph, these bound the output.
MAX_GLOSSARY_BOXES = 400          # boxes a diagram's block glossary draws (the shipped specs' largest: 83);
                                  # structures past it are counted in the legend, not drawn
MAX_TABLE_CELLS = 4_096           # cells of one conv's `connections:` table (LeNet-5's C3: 96); each is drawn
                                  # in the diagram and written into the built module
MAX_DIFF_PAIRS = 1_000_000        # rows A x rows B that `diff` aligns with difflib whole (quadratic); above it,
                                  # anchored on rows unique to each side first, the gaps in bounded slices
MAX_PAGES = 16                    # pages of a PNG or PDF diagram cut at 16,000 px (render.MAX_PX); a longer one
                                  # is refused (projected from its ranks before Graphviz runs): svg or --depth

# The top class's width parameters (archspec/pytorch/emit/vary.py): each it would take is checked by building
# the spec again with another value; the builds' nodes together are bounded (DenseNet-264's two: ~3,000).
MAX_VARY_NODES = 20_000           # past it, the parameters not yet checked stay numbers (the top writes values)

# Classes of generated source (archspec/pytorch/emit/classes.py): instances of a block that differ in structure
# get classes of their own, and each new structure is compared, child by child, with every earlier one of
# its block (it may join one as an optional child, torchvision's `downsample=None`): K structures, K^2/2.
MAX_CLASS_TESTS = 20_000_000      # children those comparisons read (1,000 structures of a 13-node block: 13M)
