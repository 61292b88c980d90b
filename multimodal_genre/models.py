"""The models, built from config.

Three Keras builders, an image branch, a tabular branch and a classification head, compose every
network: the fused model is both branches into the head, the CNN-only and MLP-only baselines are one
branch into the same head. A branch is written once, here. Inputs are named ``image`` and
``features``, so a saved model says what it expects. XGBoost is the fourth model, on the raw
feature row.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import xgboost
from keras import layers

from multimodal_genre.config import HeadConfig, ImageBranchConfig, NetworkConfig, TabularBranchConfig, XGBoostConfig
from multimodal_genre.data import GENRES

IMAGE_INPUT = "image"
FEATURES_INPUT = "features"


def conv_block(x: keras.KerasTensor, filters: int, config: ImageBranchConfig, name: str) -> keras.KerasTensor:
    """Convolutions (with batch norm and ReLU), then 2x2 pooling and dropout."""
    for index in range(1, config.convs_per_block + 1):
        x = layers.Conv2D(
            filters, config.kernel_size, padding="same", use_bias=not config.batch_norm, name=f"{name}_conv{index}"
        )(x)
        if config.batch_norm:
            x = layers.BatchNormalization(momentum=config.batch_norm_momentum, name=f"{name}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{index}")(x)
    pooling = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
    x = pooling(2, name=f"{name}_pool")(x)
    if config.dropout:
        x = layers.Dropout(config.dropout, name=f"{name}_dropout")(x)
    return x


def image_branch(image: keras.KerasTensor, config: ImageBranchConfig) -> keras.KerasTensor:
    """Spectrogram -> vector. Time runs along the width, so augmentation rolls the image sideways."""
    x = image
    if config.time_shift:
        x = layers.RandomTranslation(
            0.0, config.time_shift, fill_mode="wrap", interpolation="nearest", name="image_time_shift"
        )(x)
    for index, filters in enumerate(config.filters, start=1):
        x = conv_block(x, filters, config, name=f"image_block{index}")
    if config.global_pooling == "time_average":
        # Rows are frequencies: average along time only, so where the energy sits is kept.
        x = layers.AveragePooling2D(pool_size=(1, x.shape[2]), name="image_time_pool")(x)
        return layers.Flatten(name="image_flatten")(x)
    if config.global_pooling == "average":
        return layers.GlobalAveragePooling2D(name="image_pool")(x)
    if config.global_pooling == "max":
        return layers.GlobalMaxPooling2D(name="image_pool")(x)
    return layers.Flatten(name="image_flatten")(x)


def tabular_branch(
    features: keras.KerasTensor, config: TabularBranchConfig, mean: np.ndarray, variance: np.ndarray
) -> keras.KerasTensor:
    """Feature row -> vector. Standardisation is the first layer, with statistics from the training
    rows, so the saved model takes the raw CSV values."""
    x = layers.Normalization(mean=mean, variance=variance, name="features_standardised")(features)
    for index, width in enumerate(config.widths, start=1):
        x = layers.Dense(width, activation="relu", name=f"tabular_dense{index}")(x)
        x = layers.Dropout(config.dropout, name=f"tabular_dropout{index}")(x)
    return x


def classification_head(branches: list[keras.KerasTensor], config: HeadConfig) -> keras.KerasTensor:
    """Branch vectors -> genre probabilities. Several branches are concatenated (the fusion); with
    ``branch_dropout`` each branch's whole vector is silenced for some training examples."""
    if len(branches) > 1:
        if config.branch_dropout:
            branches = [
                layers.Dropout(config.branch_dropout, noise_shape=(None, 1), name=f"branch_dropout{index}")(branch)
                for index, branch in enumerate(branches, start=1)
            ]
        x = layers.Concatenate(name="fusion")(branches)
    else:
        (x,) = branches
    for index, width in enumerate(config.widths, start=1):
        x = layers.Dense(width, activation="relu", name=f"head_dense{index}")(x)
        x = layers.Dropout(config.dropout, name=f"head_dropout{index}")(x)
    return layers.Dense(len(GENRES), activation="softmax", name="genre")(x)


def build_network(
    name: str,
    config: NetworkConfig,
    image_shape: tuple[int, int, int],
    feature_mean: np.ndarray,
    feature_variance: np.ndarray,
) -> keras.Model:
    """The fused model or a single-branch baseline, depending on which branches ``config`` has."""
    inputs, branches = {}, []
    if config.image is not None:
        inputs[IMAGE_INPUT] = keras.Input(image_shape, name=IMAGE_INPUT)
        branches.append(image_branch(inputs[IMAGE_INPUT], config.image))
    if config.tabular is not None:
        inputs[FEATURES_INPUT] = keras.Input((len(feature_mean),), name=FEATURES_INPUT)
        branches.append(tabular_branch(inputs[FEATURES_INPUT], config.tabular, feature_mean, feature_variance))
    return keras.Model(inputs, classification_head(branches, config.head), name=name)


def build_xgboost(config: XGBoostConfig, seed: int) -> xgboost.XGBClassifier:
    """Boosted trees; ``max_rounds`` is a ceiling, early stopping on the validation split picks the count."""
    return xgboost.XGBClassifier(
        n_estimators=config.max_rounds,
        early_stopping_rounds=config.early_stopping_rounds,
        max_depth=config.max_depth,
        learning_rate=config.learning_rate,
        subsample=config.subsample,
        colsample_bytree=config.colsample_bytree,
        min_child_weight=config.min_child_weight,
        reg_alpha=config.reg_alpha,
        reg_lambda=config.reg_lambda,
        objective="multi:softprob",
        eval_metric="mlogloss",
        tree_method="hist",
        n_jobs=os.cpu_count(),
        random_state=seed,
    )


def model_inputs(model: keras.Model, images: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays ``model`` takes, by input name; a baseline gets only the view it was built on."""
    arrays = {IMAGE_INPUT: images, FEATURES_INPUT: features}
    return {name: np.asarray(arrays[name], dtype=np.float32) for name in model.input}


def predict_proba(model: keras.Model | xgboost.XGBClassifier, images: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Genre probabilities (n, 10), rows in the order of the inputs, columns in GENRES order."""
    if isinstance(model, xgboost.XGBClassifier):
        return model.predict_proba(features)
    return model.predict(model_inputs(model, images, features), batch_size=64, verbose=0)
