"""GRIP's presets: the paper's settings (docs/methods/grip.md gives each source) and sctl's measured ones."""

SCALINGS = ("shared", "separate")

#: constructor settings of each preset (sources of the "paper" values: docs/methods/grip.md)
INIT_PRESETS = {
    "sctl": {
        "generator": "residual",
        "discriminator": "mlp",
        "condition_input": "add",
        "n_hidden": 256,
        "n_embed": 128,
        "n_disc_hidden": 256,
        "dropout": 0.3,
        "scaling": "shared",
    },
    "paper": {
        "generator": "residual",  # section 4.3: Residual-MLP was best
        "discriminator": "mlp",  # section 4.3
        "condition_input": "add",  # section 4.4
        "n_hidden": 256,  # section 4.5
        "n_embed": 128,  # section 4.4
        "n_disc_hidden": 128,  # paper silent; authors' code
        "dropout": 0.0,  # paper silent; authors' code has none
        "scaling": "separate",  # section 4.1
    },
}
#: `train` settings of each preset
TRAIN_PRESETS = {
    "sctl": {
        "max_epochs": 20,
        "batch_size": 64,
        "lr": 1e-3,
        "lambda_mse": 10.0,
        "adversarial_weight": 1.0,
        "weight_decay": 1e-6,
    },
    "paper": {
        "max_epochs": 20,  # paper silent; authors' code
        "batch_size": 32,  # paper silent; authors' code
        "lr": 1e-3,  # section 4.8
        "lambda_mse": 1.0,  # section 4.7 leaves lambda open; authors' code: MSE + 0.1 adversarial
        "adversarial_weight": 0.1,
        "weight_decay": 0.0,  # section 4.8: Adam, no decay stated; authors' code none
    },
}
