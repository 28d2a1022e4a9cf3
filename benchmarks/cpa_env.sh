#!/usr/bin/env bash
# CPA's own environment for benchmarks/cpa_perturbation.py (CPA: Lotfollahi et al. 2023, Mol Syst Biol; cpa-tools).
#
# Usage:
#     bash benchmarks/cpa_env.sh [target_dir]            # default: /work/cpa_venv
#     PYTHON=/path/to/python3.9 bash benchmarks/cpa_env.sh /work/cpa_venv
# then
#     python benchmarks/cpa_perturbation.py --cpa-python /work/cpa_venv/bin/python
#
# Why apart from sctl's environment: cpa-tools 0.8.1 (the latest on PyPI) requires torch>1.8.0,<2.0.0 and
# scvi-tools>=0.20.3,<1.0.0; sctl needs torch 2 and scvi-tools 1.x. This builds a Python 3.9 venv with every package
# pinned to the versions cpa_perturbation.py was run with, from PyPI only: torch 1.12.1 (its PyPI wheel bundles CUDA
# 10.2 and needs no nvidia-* packages; torch 1.13.1 would pull about 2 GB of them, and PyPI has no CPU-only torch 1.x),
# scvi-tools 0.20.3, pytorch-lightning 1.9.5, numpy 1.26.4 (torch 1.x is built against numpy 1), anndata 0.9.2,
# pandas 2.0.3. cpa-tools imports scanpy and seaborn without declaring them: they are added (scanpy 1.9.8, seaborn
# 0.13.2). About 3.1 GB on disk, under 2 minutes with a fast link.
set -euo pipefail

target="${1:-/work/cpa_venv}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.9 "$HOME/.pyenv/versions/3.9.18/bin/python"; do
        if "$candidate" -c "import sys; assert sys.version_info[:2] == (3, 9)" >/dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
fi
if [[ -z "$python" ]]; then
    echo "cpa_env.sh: no Python 3.9 found; set PYTHON=/path/to/python3.9 (cpa-tools 0.8.1 and torch 1.12.1 need 3.9/3.10)" >&2
    exit 1
fi
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$version" != "3.9" ]]; then
    echo "cpa_env.sh: $python is Python $version; the pins below were resolved for Python 3.9" >&2
    exit 1
fi

"$python" -m venv "$target"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
cat > "$constraints" <<'EOF'
absl-py==2.3.1
adjustText==1.4.0
aiohappyeyeballs==2.6.1
aiohttp==3.13.5
aiosignal==1.4.0
anndata==0.9.2
anyio==4.12.1
argon2-cffi==25.1.0
argon2-cffi-bindings==25.1.0
arrow==1.4.0
asttokens==3.0.2
async-lru==2.0.5
async-timeout==5.0.1
attrs==26.1.0
babel==2.19.0
beautifulsoup4==4.15.0
black==25.11.0
bleach==6.2.0
certifi==2026.10.19.post1
cffi==2.0.0
charset-normalizer==3.5.3
chex==0.1.90
click==8.1.8
comm==0.2.3
contextlib2==21.6.0
contourpy==1.3.0
coverage==7.10.7
cpa-tools==0.8.1
cycler==0.12.1
debugpy==1.8.21
decorator==5.3.1
defusedxml==0.7.1
docrep==0.3.2
et_xmlfile==2.0.0
etils==1.5.2
exceptiongroup==1.3.2
executing==2.3.0
fastjsonschema==2.21.2
flake8==7.3.0
flax==0.8.5
fonttools==4.60.2
fqdn==1.6.0
frozenlist==1.8.0
fsspec==2025.10.0
get-annotations==0.1.2
h11==0.16.0
h5py==3.14.0
httpcore==1.0.9
httpx==0.28.1
humanize==4.13.0
idna==3.20
importlib_metadata==8.7.1
importlib_resources==6.5.2
iniconfig==2.1.0
ipykernel==6.31.0
ipython==8.18.1
ipywidgets==8.1.9
isoduration==20.11.0
jax==0.4.30
jaxlib==0.4.30
jedi==0.19.2
Jinja2==3.1.6
joblib==1.5.3
json5==0.17.3
jsonpointer==3.0.0
jsonschema==4.25.1
jsonschema-specifications==2025.9.1
jupyter==1.1.1
jupyter-console==6.6.3
jupyter-events==0.12.1
jupyter-lsp==2.3.1
jupyter_client==8.6.3
jupyter_core==5.8.1
jupyter_server==2.18.2
jupyter_server_terminals==0.5.4
jupyterlab==4.5.11
jupyterlab_pygments==0.3.0
jupyterlab_server==2.28.0
jupyterlab_widgets==3.0.17
kiwisolver==1.4.7
lark==1.3.1
lightning-utilities==0.15.2
llvmlite==0.43.0
markdown-it-py==3.0.0
MarkupSafe==3.0.4
matplotlib==3.9.4
matplotlib-inline==0.2.2
mccabe==0.7.0
mdurl==0.1.2
mistune==3.3.4
ml_collections==0.1.1
ml_dtypes==0.5.4
msgpack==1.1.2
mudata==0.2.3
multidict==6.7.1
multipledispatch==1.0.0
mypy_extensions==1.1.0
natsort==8.4.0
nbclient==0.10.2
nbconvert==7.17.2
nbformat==5.10.4
nest-asyncio==1.6.0
networkx==3.2.1
notebook==7.5.8
notebook_shim==0.2.4
numba==0.60.0
numpy==1.26.4
numpyro==0.19.0
openpyxl==3.1.5
opt_einsum==3.4.0
optax==0.2.4
orbax-checkpoint==0.6.4
overrides==7.7.0
packaging==26.3
pandas==2.0.3
pandocfilters==1.5.1
parso==0.8.7
pathspec==1.1.1
patsy==1.0.3
pexpect==4.9.0
pillow==11.3.0
platformdirs==4.4.0
pluggy==1.6.0
prometheus_client==0.26.0
prompt_toolkit==3.0.52
propcache==0.4.1
protobuf==6.33.6
psutil==7.2.2
ptyprocess==0.7.0
pure_eval==0.2.4
pycodestyle==2.14.0
pycparser==2.23
pyflakes==3.4.0
Pygments==2.21.0
pynndescent==0.7.0
pyparsing==3.3.3
pyro-api==0.1.2
pyro-ppl==1.8.6
pytest==8.4.2
pytest-cov==7.1.0
python-dateutil==3.0.0
python-json-logger==4.0.0
pytokens==0.4.1
pytorch-lightning==1.9.5
pytz==2026.6
PyYAML==6.0.3
pyzmq==27.3.0
rdkit-pypi==2022.9.5
referencing==0.36.2
requests==2.32.5
rfc3339-validator==0.1.4
rfc3986-validator==0.1.1
rfc3987-syntax==1.1.0
rich==15.0.0
rpds-py==0.27.1
scanpy==1.9.8
scikit-learn==1.6.1
scipy==1.13.1
scvi-tools==0.20.3
seaborn==0.13.2
Send2Trash==2.2.0
session_info==1.0.1
six==1.17.0
soupsieve==2.8.4
stack-data==0.6.3
statsmodels==0.14.6
stdlib-list==0.12.0
tensorstore==0.1.69
terminado==0.18.1
threadpoolctl==3.7.0
tinycss2==1.4.0
tomli==2.5.0
toolz==1.2.0
torch==1.12.1
torchmetrics==1.5.2
tornado==6.5.10
tqdm==4.70.1
traitlets==5.15.1
typing_extensions==4.16.0
tzdata==2026.6
umap-learn==0.5.12
uri-template==1.3.0
urllib3==2.6.3
wcwidth==0.9.4
webcolors==24.11.1
webencodings==0.5.1
websocket-client==1.9.0
widgetsnbextension==4.0.16
yarl==1.22.0
zipp==3.23.1
EOF

"$target/bin/python" -m pip install --disable-pip-version-check --quiet "pip==25.3"
"$target/bin/python" -m pip install --disable-pip-version-check \
    -c "$constraints" cpa-tools==0.8.1 torch==1.12.1 scanpy==1.9.8 seaborn==0.13.2
OMP_NUM_THREADS=1 "$target/bin/python" -c \
    "import cpa, scvi, torch; from importlib.metadata import version; print('cpa-tools', version('cpa-tools'), 'scvi-tools', scvi.__version__, 'torch', torch.__version__)"
echo "CPA environment ready: $target/bin/python"
