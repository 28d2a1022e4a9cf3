"""SeqPerturb's presets: the paper's settings (each source in docs/methods/seqperturb.md) and sctl's measured ones."""

#: constructor settings of each preset (sources of the "paper" values: docs/methods/seqperturb.md)
INIT_PRESETS = {
    "sctl": {
        "encoder": "gru_attention",
        "n_embed": 16,
        "n_dense": 256,
        "dropout": 0.5,
        "loss": "mse",
        "transformer_block": "encoder_layer",
    },
    "paper": {
        "encoder": "gru_attention",  # Table IV: best sign accuracy
        "n_embed": 16,  # section II-B, Table III
        "n_dense": 256,  # Table III (128, ReLU for the autoencoder)
        "dropout": 0.5,  # section II-B, Table III
        "loss": "mse",  # paper silent, no released code: sctl's value
        "transformer_block": "attention",  # Table III: MultiHeadAttention (2 heads)
    },
}
#: `train` settings: sctl's measured setting for every encoder; the paper's Table III per encoder
SCTL_TRAINING = {"max_epochs": 40, "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-6}
PAPER_TRAINING = {
    "lstm": {"max_epochs": 300, "batch_size": 30, "lr": 1e-3},
    "gru": {"max_epochs": 300, "batch_size": 30, "lr": 1e-3},
    "gru3": {"max_epochs": 300, "batch_size": 30, "lr": 1e-3},
    "gru_attention": {"max_epochs": 300, "batch_size": 20, "lr": 1e-3},
    "transformer": {"max_epochs": 400, "batch_size": 50, "lr": 3e-3},
    "autoencoder": {"max_epochs": 500, "batch_size": 70, "lr": 3e-3},
}
