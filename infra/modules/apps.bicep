// The services as container apps. Workers scale on their consumer group's lag (KEDA redis-streams, to zero when idle);
// the Api is the only external ingress; the GPU trainer is a manually started job on the GPU profile.
param prefix string
param location string
param tags object
param environmentId string
param identityId string
param identityClientId string
param registryServer string
param redisHost string
param redisPort int
param redisAuthVaultUri string
param redisConnectionVaultUri string
param keyVaultUri string
param otlpEndpoint string
param images object
param teachers array
param maxReplicas object
param apiAuthClientId string
param gpuResources object

@description('The environment storage (Azure Files) mounted at /data by every service that reads or writes the dataset store.')
param datasetStorageName string

@description('Unacknowledged entries per replica before another replica is added.')
param lagPerReplica int = 100

var teacherSecrets = [for teacher in teachers: { name: '${teacher.name}-api-key', keyVaultUrl: '${keyVaultUri}secrets/${teacher.name}-api-key', identity: identityId }]

var secrets = concat([
  { name: 'redis-connection', keyVaultUrl: redisConnectionVaultUri, identity: identityId }
  { name: 'redis-password', keyVaultUrl: redisAuthVaultUri, identity: identityId }
], teacherSecrets)

var commonEnv = concat([
  { name: 'ConnectionStrings__redis', secretRef: 'redis-connection' }
  { name: 'services__teacher-sim__http__0', value: 'http://${prefix}-teacher-sim' }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
], empty(otlpEndpoint) ? [] : [
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }
])

// Real teachers, keyed by name beside the simulated ones of the generation service's appsettings.json.
var teacherSettings = [for teacher in teachers: [
  { name: 'Generation__Teachers__${teacher.name}__Endpoint', value: teacher.endpoint }
  { name: 'Generation__Teachers__${teacher.name}__Model', value: teacher.model }
  { name: 'Generation__Teachers__${teacher.name}__Provider', value: teacher.?provider ?? 'OpenAI' }
  { name: 'Generation__Teachers__${teacher.name}__ApiKey', secretRef: '${teacher.name}-api-key' }
]]

var teacherEnv = flatten(teacherSettings)

// One store for all: verification writes samples, scoring query records, the api inputs, exports and reports, the
// trainer materialises training files and writes checkpoints.
var datasetVolumes = [{ name: 'dataset', storageName: datasetStorageName, storageType: 'AzureFile' }]
var datasetMounts = [{ volumeName: 'dataset', mountPath: '/data' }]
var datasetEnv = [
  { name: 'DatasetStore__Root', value: '/data/store' }
  { name: 'Trainer__OutputRoot', value: '/data/training-runs' }
]

var workers = [
  { name: 'generation', image: images.generation, stream: 'amdistill:generation', group: 'generation', maxReplicas: maxReplicas.generation, env: teacherEnv }
  { name: 'verification', image: images.verification, stream: 'amdistill:verification', group: 'verification', maxReplicas: maxReplicas.verification, env: datasetEnv }
  { name: 'scoring', image: images.scoring, stream: 'amdistill:scoring', group: 'scoring', maxReplicas: maxReplicas.scoring, env: datasetEnv }
]

// The stream-lag rule of a worker's consumer group.
func lagRule(address string, stream string, group string, lagCount int) object => {
  name: 'stream-lag'
  custom: {
    type: 'redis-streams'
    metadata: { address: address, stream: stream, consumerGroup: group, lagCount: string(lagCount), enableTLS: 'true' }
    auth: [{ secretRef: 'redis-password', triggerParameter: 'password' }]
  }
}

var probes = [
  { type: 'Liveness', httpGet: { path: '/alive', port: 8080 } }
  { type: 'Readiness', httpGet: { path: '/health', port: 8080 } }
]

var registries = [{ server: registryServer, identity: identityId }]

resource workerApps 'Microsoft.App/containerApps@2024-03-01' = [for worker in workers: {
  name: '${prefix}-${worker.name}'
  location: location
  tags: union(tags, { 'azd-service-name': worker.name })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: false, targetPort: 8080 }
      registries: registries
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: worker.name
          image: worker.image
          resources: { cpu: json('1.0'), memory: '2Gi' }
          env: concat(commonEnv, worker.env)
          probes: probes
          volumeMounts: worker.name == 'generation' ? [] : datasetMounts
        }
      ]
      volumes: worker.name == 'generation' ? [] : datasetVolumes
      scale: {
        minReplicas: 0
        maxReplicas: worker.maxReplicas
        rules: [lagRule('${redisHost}:${redisPort}', worker.stream, worker.group, lagPerReplica)]
      }
    }
  }
}]

resource teacherSim 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-teacher-sim'
  location: location
  tags: union(tags, { 'azd-service-name': 'teacher-sim' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: false, targetPort: 8080 }
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'teacher-sim'
          image: images.teacherSim
          resources: { cpu: json('1.0'), memory: '2Gi' }
          probes: probes
        }
      ]
      scale: { minReplicas: 1, maxReplicas: 3 }
    }
  }
}

resource api 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-api'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: true, targetPort: 8080, transport: 'auto', allowInsecure: false }
      registries: registries
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'api'
          image: images.api
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(commonEnv, datasetEnv, [{ name: 'services__trainer__http__0', value: 'http://${prefix}-trainer' }])
          probes: probes
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
      scale: { minReplicas: 1, maxReplicas: 3 }
    }
  }
}

// Users sign in with Entra ID; unauthenticated API calls get 401.
resource apiAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: api
  name: 'current'
  properties: {
    platform: { enabled: true }
    globalValidation: { unauthenticatedClientAction: 'Return401' }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiAuthClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
      }
    }
  }
}

// The trainer's API (submit, status, cancel) on the Consumption profile; the jobs themselves run in the GPU job below.
resource trainerApi 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-trainer'
  location: location
  tags: union(tags, { 'azd-service-name': 'trainer' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: false, targetPort: 8080 }
      registries: registries
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: images.trainer
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(commonEnv, datasetEnv, [{ name: 'Trainer__RunJobs', value: 'false' }])
          probes: probes
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
      scale: { minReplicas: 0, maxReplicas: 1 }
    }
  }
}

// Training runs on the GPU profile as an event-driven job: KEDA starts an execution when the trainer group has queued
// jobs; the trainer service inside the GPU image runs them (python -m amdistill_trainer) and exits once idle.
resource trainerJob 'Microsoft.App/jobs@2024-03-01' = {
  name: '${prefix}-trainer-gpu'
  location: location
  tags: union(tags, { 'azd-service-name': 'trainer-gpu' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'gpu'
    configuration: {
      triggerType: 'Event'
      replicaTimeout: 14 * 86400
      replicaRetryLimit: 1
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: 1
          pollingInterval: 60
          rules: [lagRule('${redisHost}:${redisPort}', 'amdistill:training', 'trainer', 1)]
        }
      }
      registries: registries
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: images.trainerGpu
          command: ['/app/service/AmDistill.Trainer']
          resources: { cpu: gpuResources.cpu, memory: gpuResources.memory }
          env: concat(commonEnv, datasetEnv, [
            { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' }
            { name: 'Trainer__ExitAfterIdle', value: '00:05:00' }
          ])
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
    }
  }
}

output apiUrl string = 'https://${api.properties.configuration.ingress.fqdn}'
