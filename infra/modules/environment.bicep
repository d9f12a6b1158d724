// The Container Apps environment: a consumption profile for the services, a GPU profile for the trainer job, and the
// shared volume (an Azure Files share) that holds the dataset store, uploaded queries, exports, reports and checkpoints.
param prefix string
param location string
param tags object
param logAnalyticsWorkspaceName string
param gpuProfileType string

@description('The delegated subnet of the environment when private networking is on; empty: the platform\'s own network.')
param infrastructureSubnetId string = ''

@description('Storage reachable only through a private endpoint.')
param privateNetworking bool = false

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${prefix}-env'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: empty(infrastructureSubnetId) ? null : { infrastructureSubnetId: infrastructureSubnetId, internal: false }
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: gpuProfileType }
    ]
  }
}

@description('Size of the shared dataset volume in GiB.')
param datasetShareQuotaGiB int = 1024

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('${replace(prefix, '-', '')}data${uniqueString(resourceGroup().id)}', 24)
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource share 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = {
  parent: fileService
  name: 'dataset'
  properties: { shareQuota: datasetShareQuotaGiB }
}

// The environment's handle on the share; apps mount it as volume "dataset".
resource datasetStorage 'Microsoft.App/managedEnvironments/storages@2024-03-01' = {
  parent: environment
  name: 'dataset'
  properties: {
    azureFile: {
      accountName: storage.name
      accountKey: storage.listKeys().keys[0].value
      shareName: share.name
      accessMode: 'ReadWrite'
    }
  }
}

output environmentId string = environment.id
output datasetStorageName string = datasetStorage.name
output storageAccountId string = storage.id
