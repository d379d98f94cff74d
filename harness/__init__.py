"""dg2bench: a plugin-based benchmark harness for GAN-based defect-image augmentation.

The public API a plugin may import::

    from dg2bench import hookimpl, Generator, Classifier, Dataset, SplitItem, TrainPlan, TrainingState, LoadCropFlip
    from dg2bench import option   # a hyperparameter field with its allowed values: option(4, minimum=1)
"""

from dg2bench.contracts.classifier import DEFECT, DEFECT_FREE, Classifier
from dg2bench.contracts.dataset import Dataset, SplitItem
from dg2bench.contracts.generator import Generator, RealTrainingData
from dg2bench.contracts.hyperparameters import option
from dg2bench.contracts.hookspecs import hookimpl
from dg2bench.contracts.trainable import Trainable, TrainingState, TrainPlan
from dg2bench.errors import BenchError, DataError, PluginError, SpecError
from dg2bench.runtime.load_crop_flip import LoadCropFlip

__version__ = "0.2.0.dev0"

__all__ = [
    "DEFECT", "DEFECT_FREE", "BenchError", "Classifier", "DataError", "Dataset", "Generator", "LoadCropFlip",
    "PluginError", "RealTrainingData", "SpecError", "SplitItem", "TrainPlan", "Trainable", "TrainingState", "hookimpl", "option",
    "__version__",
]
